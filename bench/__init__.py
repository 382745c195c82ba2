"""Benchmarks of Refuge's messaging plumbing and of the running skeleton (``make bench``)."""
