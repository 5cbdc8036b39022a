"""Coldsend: a self-hosted cold-email outreach platform that speaks Instantly's API V2."""

__version__ = "0.1.0"
