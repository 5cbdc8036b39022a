"""Workspaces (Instantly's organizations): the tenant every other row belongs to."""
