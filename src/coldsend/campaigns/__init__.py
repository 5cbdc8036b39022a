"""Campaigns: sequences of steps sent from the workspace's accounts to its leads."""
