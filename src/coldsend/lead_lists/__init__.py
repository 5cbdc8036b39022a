"""Lead lists: containers of leads outside any campaign."""
