"""Background jobs of accounts (registered with `kit.jobs.job_handler`)."""
