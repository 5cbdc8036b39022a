"""Background jobs: long-running work the API starts and clients poll (`GET /background-jobs/{id}`)."""
