"""Incoming mail: parsing and classifying what arrives in a sending account's mailbox."""
