"""Facts about the Kconfig symbols that several modules share (a leaf: imports nothing of ours)."""

from __future__ import annotations

#: Our symbols' prefix: only these are read from .config and written as extra vars.
SYMBOL_PREFIX = "VLLM_"

#: Kconfig symbol -> environment variable that may supply it instead. Their values never reach
#: extra_vars.yaml, logs, a defconfig or a file others can read.
SECRET_SYMBOLS: dict[str, str] = {"VLLM_HF_TOKEN": "HF_TOKEN", "VLLM_API_KEY": "VLLM_API_KEY",
                                  "VLLM_GRAFANA_API_TOKEN": "GRAFANA_API_TOKEN"}
