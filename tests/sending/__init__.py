"""Tests for coldsend.sending."""
