"""The block list: addresses and domains a workspace never imports or writes to."""
