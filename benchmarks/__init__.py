"""Benchmarks: each script measures against a baseline in the same run and writes JSON."""
