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

# c2pa-ts, an independent C2PA implementation the tests check signed files with (Node.js).
# `npm install --no-save` installs the locked versions; `npm ci` refuses this lock because
# the registry has no entries for cbor-extract's optional per-platform builds.
INTEROP := tests/interop/node_modules/.package-lock.json

$(INTEROP): tests/interop/package-lock.json
	cd tests/interop && npm install --no-save --ignore-scripts --no-audit --no-fund

test: $(INSTALLED) $(INTEROP)
	$(BIN)/python -m pytest

# Set up this checkout as a workspace, train the quickstart model, show its record,
# audit it by re-executing it from the record, denoise a noisy photo with it, sign the
# output with C2PA, verify the signature, and write the run's transparency report; then
# denoise a colour photo with the committed colour reference model, signed and verified.
demo: $(INSTALLED)
	$(REGISTRY) init .
	@set -e; \
	run=$$($(REGISTRY) train configs/quickstart.yaml | tail -n 1); \
	$(REGISTRY) runs show $$run; \
	$(REGISTRY) audit $$run; \
	noisy=$$($(REGISTRY) noise data/starter/camera.png --level 25 --out demo --force); \
	$(REGISTRY) denoise $$run $$noisy --out demo/denoised --sigma 25 --force; \
	$(REGISTRY) verify demo/denoised/camera.png; \
	$(REGISTRY) report $$run --format html --out demo/report.html --force; \
	colour=$$($(REGISTRY) noise data/starter/coffee.png --level 25 --out demo --force); \
	$(REGISTRY) denoise models/reference-color $$colour --out demo/colour --sigma 25 --force; \
	$(REGISTRY) verify demo/colour/coffee.png; \
	echo; \
	echo "Done. Workspace: $(CURDIR) (database, checkpoints and signing keys in .registry/, data in data/ tracked by data.dvc)"; \
	echo "Run $$run is recorded, evaluated and audited; demo/denoised/camera.png is its signed output;"; \
	echo "demo/report.html is its transparency report (open it in a browser); demo/colour/coffee.png is a colour"; \
	echo "photo denoised by the committed colour reference model (models/reference-color), signed. Try next:"; \
	echo "  $(REGISTRY) runs list"; \
	echo "  $(REGISTRY) runs show $$run --json"; \
	echo "  $(REGISTRY) eval $$run --dataset starter --baselines gaussian,wavelet,tv,nlm"; \
	echo "  $(REGISTRY) denoise models/reference $$noisy --out demo/reference --sigma 25"; \
	echo "  $(REGISTRY) data add ../shared/datasets/set12 --name set12"; \
	echo "  $(REGISTRY) consent set set12/08 --status withdrawn --note 'subject asked'"; \
	echo "  $(REGISTRY) keys show"

# Regenerate the lock after changing dependencies in pyproject.toml.
lock: $(INSTALLED)
	$(BIN)/python -m pip install --quiet pip-tools
	$(BIN)/pip-compile --generate-hashes --allow-unsafe --extra test --strip-extras \
		-c constraints.txt -o requirements.lock pyproject.toml
