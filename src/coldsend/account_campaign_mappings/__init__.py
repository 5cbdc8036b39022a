"""Account campaign mappings: which campaigns send from a given account (read-only view)."""
