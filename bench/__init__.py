"""Benchmarks: `make bench` (energy, shading) and `make bench-scale` (end to end)."""
