"""Background jobs of leads (registered with `kit.jobs.job_handler`)."""
