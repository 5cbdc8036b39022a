"""The Unibox: emails sent and received, listed, read, flagged; replies, forwards and test emails."""
