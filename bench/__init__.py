"""Benchmarks: a load generator and the scripts that produce ``docs/performance.md``."""
