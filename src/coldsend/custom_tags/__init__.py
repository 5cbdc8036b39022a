"""Custom tags: labels a workspace puts on its sending accounts and campaigns, used as list filters."""
