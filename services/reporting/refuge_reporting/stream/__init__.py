"""The operators' live stream page: topics, lag, dead letters and outboxes, never personal data."""
