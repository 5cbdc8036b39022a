"""Testing a mailbox's SMTP and IMAP connections (in the worker) and recording the outcome."""
