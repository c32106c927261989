# SPDX-License-Identifier: Apache-2.0
# vllm-workflow: kdevops-style Kconfig -> .config -> extra_vars.yaml -> Ansible.
# Targets are thin: each runs one CLI command or one playbook. `make help`
# lists them all ("## " comments are the help text).

TOPDIR        := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
# Quote a value for the shell: every make variable that reaches a command goes through it,
# so LABEL='x;touch pwned' stays one argument.
sq = '$(subst ','\'',$(1))'
VENV          ?= $(TOPDIR)/.venv
PYTHON        := $(VENV)/bin/python
VENV_STAMP    := $(VENV)/.installed
KCONFIG_FILES := $(TOPDIR)/Kconfig $(wildcard $(TOPDIR)/workflows/*/Kconfig $(TOPDIR)/workflows/*/Kconfig.*)
CONFIG        := $(TOPDIR)/.config
EXTRA_VARS    := $(TOPDIR)/extra_vars.yaml
SECRETS       := $(TOPDIR)/.secrets.yaml
INVENTORY     := $(TOPDIR)/hosts
WORKFLOW      := $(call sq,$(VENV)/bin/vllm-workflow) --root $(call sq,$(TOPDIR)) --config $(call sq,$(CONFIG))
DEFCONFIGS    := $(notdir $(wildcard $(TOPDIR)/defconfigs/*))
export ANSIBLE_CONFIG := $(TOPDIR)/ansible.cfg
ANSIBLE_PLAYBOOK := $(call sq,$(VENV)/bin/ansible-playbook) -i $(call sq,$(INVENTORY)) -e $(call sq,@$(EXTRA_VARS)) \
	-e $(call sq,@$(SECRETS)) -e $(call sq,topdir=$(TOPDIR))

.DEFAULT_GOAL := all
.PHONY: all venv venv-chart menuconfig olddefconfig savedefconfig help test test-slow check test-integration lint lock \
	kdevops-plugin-tarball

all: $(EXTRA_VARS) ## Check .config and write extra_vars.yaml (the default target)

$(VENV_STAMP): $(TOPDIR)/requirements.txt $(TOPDIR)/requirements-dev.txt $(TOPDIR)/requirements.lock \
		$(TOPDIR)/pyproject.toml $(TOPDIR)/scripts/bootstrap-venv.sh $(TOPDIR)/scripts/install-collections.py
	@$(call sq,$(TOPDIR))/scripts/bootstrap-venv.sh $(call sq,$(VENV))

venv: $(VENV_STAMP) ## Create or update the project virtualenv (.venv) from pinned requirements

venv-chart: $(VENV_STAMP) ## Add the chart renderer (helm-python-sdk, hash-pinned) so the tests render the real chart
	@$(call sq,$(VENV))/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
		-r $(call sq,$(TOPDIR)/requirements-chart.txt)

$(CONFIG):
	@echo "error: no .config. Fix: run 'make defconfig-vllm-local' (see 'make help' for others) or 'make menuconfig'." >&2
	@exit 2

$(EXTRA_VARS): $(CONFIG) $(KCONFIG_FILES) $(VENV_STAMP) FORCE
	@$(WORKFLOW) vars --output $(call sq,$(EXTRA_VARS)) --secrets $(call sq,$(SECRETS))

FORCE:

menuconfig: $(VENV_STAMP) ## Choose settings in a terminal menu (writes .config)
	@cd $(call sq,$(TOPDIR)) && KCONFIG_CONFIG=$(call sq,$(CONFIG)) $(call sq,$(VENV))/bin/menuconfig Kconfig
	@$(WORKFLOW) vars --output $(call sq,$(EXTRA_VARS)) --secrets $(call sq,$(SECRETS))

defconfig-:
	@echo "error: no defconfig named. Fix: make defconfig-<name>, one of: $(DEFCONFIGS)" >&2
	@exit 2

defconfig-%: $(VENV_STAMP) ## Start from defconfigs/<name>, e.g. make defconfig-vllm-local
	@$(WORKFLOW) defconfig $(call sq,$*)

olddefconfig: $(VENV_STAMP) ## Update .config for a newer Kconfig, taking defaults for new settings
	@$(WORKFLOW) olddefconfig

savedefconfig: $(VENV_STAMP) ## Write the minimal form of .config to ./defconfig
	@$(WORKFLOW) savedefconfig --output $(call sq,$(TOPDIR)/defconfig)

test: $(VENV_STAMP) ## Run lint and the unit tests (no services started)
	@cd $(call sq,$(TOPDIR)) && $(call sq,$(VENV))/bin/python -m pytest -q
	@$(MAKE) --no-print-directory lint

lint: $(VENV_STAMP) ## ruff, yamllint, ansible-lint --offline and playbook syntax checks
	@cd $(call sq,$(TOPDIR)) && $(call sq,$(VENV))/bin/ruff check src tests bench playbooks
	@cd $(call sq,$(TOPDIR)) && $(call sq,$(VENV))/bin/yamllint -s .
	@cd $(call sq,$(TOPDIR)) && PATH=$(call sq,$(VENV)/bin):"$$PATH" ansible-lint --offline -q playbooks/
	@cd $(call sq,$(TOPDIR)) && for p in playbooks/*.yml; do \
		$(call sq,$(VENV))/bin/ansible-playbook -i tests/data/syntax-inventory --syntax-check "$$p" >/dev/null || exit 1; done

test-slow: $(VENV_STAMP) ## Run the timing- and process-heavy unit tests (stub servers under load, real Ansible)
	@cd $(call sq,$(TOPDIR)) && $(call sq,$(VENV))/bin/python -m pytest -q -m slow -p no:cacheprovider

check: test test-slow test-integration ## Every test: lint, unit, slow, and the real stack end to end (what CI runs)

test-integration: $(VENV_STAMP) ## Run the real local stack end to end (installs vLLM CPU; minutes)
	@cd $(call sq,$(TOPDIR)) && $(call sq,$(VENV))/bin/python -m pytest -q -m integration -p no:cacheprovider tests/integration

kdevops-plugin-tarball: $(VENV_STAMP) ## Write .kdevops-<version>.tar.xz (the kdevops plugin with this tree) for kdevops-plugin-add
	@$(call sq,$(PYTHON)) $(call sq,$(TOPDIR)/scripts/kdevops-plugin-tarball.py)

lock: $(VENV_STAMP) ## Re-pin requirements.lock from the current virtualenv
	@$(call sq,$(VENV))/bin/pip freeze --exclude-editable | sed '1i # Full pinned set of the controller virtualenv (pip constraints). Regenerate with: make lock' > $(call sq,$(TOPDIR))/requirements.lock

include $(TOPDIR)/workflows/vllm/Makefile

help: ## List every target with one line each
	@echo "vllm-workflow make targets:"
	@grep -hE '^[a-zA-Z0-9%_-]+:.*## ' $(MAKEFILE_LIST) | sort | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-26s %s\n", $$1, $$2}'
	@echo "Defconfigs (make defconfig-<name>):"
	@for d in $(DEFCONFIGS); do echo "  $$d"; done
