# The two front-door commands: `make demo` and `make test`. Each creates .venv and
# installs the locked dependencies on first use (and again when the lock changes).

SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
REGISTRY := $(BIN)/registry
INSTALLED := $(VENV)/.installed

.PHONY: demo test install lock

install: $(INSTALLED)

$(INSTALLED): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	@echo "installing the locked dependencies into $(VENV) (a few minutes the first time)"
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock 2>&1 \
		| { grep -v "is ignored: it is neither a file nor a directory" || true; }
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

test: $(INSTALLED)
	$(BIN)/python -m pytest

# Set up this checkout as a workspace, train the quickstart model, show its record and
# audit it by re-executing it from the record.
demo: $(INSTALLED)
	$(REGISTRY) init .
	@set -e; \
	run=$$($(REGISTRY) train configs/quickstart.yaml | tail -n 1); \
	$(REGISTRY) runs show $$run; \
	$(REGISTRY) audit $$run; \
	echo; \
	echo "Done. Workspace: $(CURDIR) (database and checkpoints in .registry/, data in data/ tracked by data.dvc)"; \
	echo "Run $$run is recorded, evaluated and audited. Try next:"; \
	echo "  $(REGISTRY) runs list"; \
	echo "  $(REGISTRY) runs show $$run --json"; \
	echo "  $(REGISTRY) data add ../shared/datasets/set12 --name set12"; \
	echo "  $(REGISTRY) consent set set12/08 --status withdrawn --note 'subject asked'"; \
	echo "  $(REGISTRY) train configs/quickstart.yaml --set train.seed=1"

# Regenerate the lock after changing dependencies in pyproject.toml.
lock: $(INSTALLED)
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --generate-hashes --allow-unsafe --extra test --strip-extras \
		-c constraints.txt -o requirements.lock pyproject.toml
