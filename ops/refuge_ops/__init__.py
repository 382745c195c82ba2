"""``refuge``: the operators' command line. It shows streams, lag and dead letters, never personal data."""
