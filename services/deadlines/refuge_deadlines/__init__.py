"""Refuge deadlines service: turns the facts of a case into legal deadlines."""
