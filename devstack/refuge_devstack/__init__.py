"""Refuge's embedded development stack and test harness."""
