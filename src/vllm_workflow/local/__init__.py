"""The local backend: the production stack as supervised processes on a host."""
