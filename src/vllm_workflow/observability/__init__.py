"""Observability: Prometheus configuration, dashboards, and the monitor command."""
