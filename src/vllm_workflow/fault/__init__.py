"""Fault injection and failover measurement: the `fault` benchmark workload."""
