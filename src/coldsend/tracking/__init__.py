"""Open, click and unsubscribe tracking of sent campaign emails: signed links, public endpoints, counters."""
