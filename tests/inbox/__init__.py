"""Tests for coldsend.inbox."""
