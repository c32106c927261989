"""Benchmark: workloads, streaming load generator, statistics, results bundles, reports."""
