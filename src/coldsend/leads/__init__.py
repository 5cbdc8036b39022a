"""Leads: the people a campaign writes to, in a campaign or a lead list."""
