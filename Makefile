# One command per task, the same locally and in CI.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv install install-test quickstart test test-fast lint format bench clean

$(PY):
	python3 -m venv $(VENV)

install: $(PY)
	$(PY) -m pip install -q -e .

install-test: $(PY)
	$(PY) -m pip install -q -e '.[test]'

quickstart: install
	$(VENV)/bin/shipyard quickstart

test: install-test
	$(PY) -m pytest

test-fast: install-test
	$(PY) -m pytest -m "not slow"

lint: install-test
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks
	$(VENV)/bin/mypy

format: install-test
	$(VENV)/bin/ruff format src tests benchmarks
	$(VENV)/bin/ruff check --fix src tests benchmarks

bench: install-test
	$(PY) benchmarks/tracking.py
	$(PY) benchmarks/pipelines.py

clean:
	rm -rf .shipyard .pytest_cache .ruff_cache .mypy_cache build dist src/*.egg-info
