# Two commands do all the set-up on a fresh machine (Python 3.11 + pip):
#   make demo   installs into .venv, then runs `fastgnn demo`
#   make test   installs into .venv (with test extras), checks the import layers, then runs the test suite
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of torch is pinned: an unpinned torch pulls several GB of CUDA packages.
TORCH ?= torch==2.13.0

.PHONY: install install-test demo test lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e .

install-test: $(BIN)/python
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e ".[test,chem]"

demo: install
	$(BIN)/fastgnn demo

test: install-test
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

lint: install-test
	$(BIN)/ruff check src tests benchmarks

bench: install
	$(BIN)/python benchmarks/pair_scaling.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
