"""API keys: bearer credentials with scopes, stored as SHA-256 hashes and shown once."""
