# Entry points: `make run` trains and exports embeddings, `make test` runs the test suite.
# Both build the Python 3.10 virtual environment in .venv first (idempotent).
SHELL := /bin/bash
VENV := .venv
PYTHON := $(VENV)/bin/python
PIP_VERSION := $(shell sed -n 's/^pip_version=//p' tools/install)
# `make setup GPU=1`: TensorFlow with CUDA from PyPI (requirements-gpu.txt), for a machine with an NVIDIA GPU.
GPU ?=
STAMP := $(VENV)/.installed$(if $(GPU),-gpu)
# `make image IMAGE=registry/imdb-embeddings:TAG [GPU=1]`
IMAGE ?= imdb-word-embeddings:latest

# `make run DATA_DIR=/path/to/aclImdb OUTPUT_DIR=out ARGS="--epochs 5"`
DATA_DIR ?=
OUTPUT_DIR ?= output
ARGS ?=
PYTEST_ARGS ?=
# Test processes (pytest-xdist): one more than the CPU cores, at most 4 (the end-to-end modules wait on
# chains of step processes, which leaves a core idle at times); each takes whole test modules, so a
# module's shared end-to-end run is made once. TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= $(shell n=$$(( $$(nproc 2>/dev/null || echo 1) + 1 )); echo $$(( n < 4 ? n : 4 )))
PYTEST := $(PYTHON) -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

# tf.Transform's TransformFeaturesLayer is Keras 2: make `tf.keras` mean tf-keras everywhere.
export TF_USE_LEGACY_KERAS := 1

.PHONY: setup run test test-unit test-e2e bench lock image clean

setup: $(STAMP)

$(STAMP): requirements.txt constraints.txt requirements-gpu.txt constraints-gpu.txt setup.py tools/install
	@py=$$(tools/find_python310) || exit 1; \
	if [ ! -x $(PYTHON) ] || ! $(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then \
	  echo "Creating $(VENV) with $$py"; rm -rf $(VENV); "$$py" -m venv $(VENV) || exit 1; \
	fi
	tools/install $(PYTHON) deps $(if $(GPU),--gpu)
	tools/install $(PYTHON) project
	@touch $@

run: $(STAMP)
	$(PYTHON) pipeline.py run $(if $(DATA_DIR),--data-dir "$(DATA_DIR)") --output-dir "$(OUTPUT_DIR)" $(ARGS)

test: $(STAMP)
	$(PYTEST) $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(PYTEST) -m "not e2e" $(PYTEST_ARGS)

test-e2e: $(STAMP)
	$(PYTEST) -m e2e $(PYTEST_ARGS)

# `make bench DATA_DIR=/path/to/aclImdb [BENCH_ARGS="--presets tutorial"]`: the pipeline against the bare tutorial script.
BENCH_ARGS ?=
bench: $(STAMP)
	@[ -n "$(DATA_DIR)" ] || { echo "make bench needs DATA_DIR=/path/to/aclImdb (the folder holding train/)" >&2; exit 2; }
	$(PYTHON) -m bench.run --data-dir "$(DATA_DIR)" $(BENCH_ARGS)

# Re-resolve requirements.txt from scratch and pin every transitive version.
lock:
	@py=$$(tools/find_python310) || exit 1; tmp=$$(mktemp -d); \
	"$$py" -m venv $$tmp/venv && $$tmp/venv/bin/python -m pip install --quiet "pip==$(PIP_VERSION)" && \
	$$tmp/venv/bin/python -m pip install --quiet -r requirements.txt && \
	$$tmp/venv/bin/python -m pip freeze --exclude-editable > constraints.txt; rm -rf $$tmp

# The pipeline image (Dockerfile), where a Docker engine runs.
image:
	@command -v docker >/dev/null 2>&1 || { echo "make image needs Docker (docker build); none is installed here." >&2; exit 2; }
	docker build $(if $(GPU),--build-arg GPU=1) -t $(IMAGE) .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
