"""A/B comparison: arm settings, interleaved schedule, statistics, verdict, comparison report."""
