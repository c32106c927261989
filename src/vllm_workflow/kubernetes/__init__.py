"""The Kubernetes backend: Helm values, GPU gates, pinned tools and the deploy plan."""
