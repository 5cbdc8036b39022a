"""Lead labels: a workspace's own interest statuses, beside Instantly's built-in ones."""
