PY ?= .venv/bin/python
BIN := $(dir $(PY))

.PHONY: setup check format lint types layers test test-all quickstart

setup:            ## create .venv and install mlwright with its dev extras
	python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'

check: format lint types layers test   ## everything CI runs

format:
	$(BIN)ruff format --check src tests bench

lint:
	$(BIN)ruff check src tests bench

types:
	$(BIN)mypy

layers:
	$(BIN)lint-imports

test:
	$(BIN)pytest -q --runslow

quickstart:
	$(BIN)mlwright train examples/telco_churn/train.csv --target Churn --time-limit 60 --out models/churn
