"""Sending accounts: the workspace's own mailboxes, addressed by email."""
