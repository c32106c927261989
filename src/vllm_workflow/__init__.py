"""vllm-workflow: deploy, check, benchmark and A/B-compare the vLLM Production Stack."""

__version__ = "0.1.0"
