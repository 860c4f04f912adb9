# Entry points: `make run` trains and exports embeddings, `make test` runs the test suite.
# Both build the Python 3.10 virtual environment in .venv first (idempotent).
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
PIP_VERSION := 26.3
STAMP := $(VENV)/.installed

# `make run DATA_DIR=/path/to/aclImdb OUTPUT_DIR=out ARGS="--epochs 5"`
DATA_DIR ?=
OUTPUT_DIR ?= output
ARGS ?=
PYTEST_ARGS ?=

# tf.Transform's TransformFeaturesLayer is Keras 2: make `tf.keras` mean tf-keras everywhere.
export TF_USE_LEGACY_KERAS := 1

.PHONY: setup run test test-unit test-e2e lock clean

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt setup.py
	@py=$$(tools/find_python310) || exit 1; \
	if [ ! -x $(PYTHON) ] || ! $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then \
	  echo "Creating $(VENV) with $$py"; rm -rf $(VENV); "$$py" -m venv $(VENV) || exit 1; \
	fi
	$(PYTHON) -m pip install --quiet --disable-pip-version-check "pip==$(PIP_VERSION)"
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt -c constraints.txt
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

run: $(STAMP)
	$(PYTHON) pipeline.py run $(if $(DATA_DIR),--data-dir "$(DATA_DIR)") --output-dir "$(OUTPUT_DIR)" $(ARGS)

test: $(STAMP)
	$(PYTHON) -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(PYTHON) -m pytest -m "not e2e" $(PYTEST_ARGS)

test-e2e: $(STAMP)
	$(PYTHON) -m pytest -m e2e $(PYTEST_ARGS)

# Re-resolve requirements.txt from scratch and pin every transitive version.
lock:
	@py=$$(tools/find_python310) || exit 1; tmp=$$(mktemp -d); \
	"$$py" -m venv $$tmp/venv && $$tmp/venv/bin/python -m pip install --quiet "pip==$(PIP_VERSION)" && \
	$$tmp/venv/bin/python -m pip install --quiet -r requirements.txt && \
	$$tmp/venv/bin/python -m pip freeze --exclude-editable > constraints.txt; rm -rf $$tmp

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
