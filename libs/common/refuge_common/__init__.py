"""Refuge's event contract and the plumbing every service shares."""
