"""Benchmarks: each prints its figure beside a floor measured in the same run."""
