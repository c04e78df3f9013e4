# Two commands: `make demo` and `make test`. Everything else is here for developers.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test check lint typecheck bench clean fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/linli demo

# The suite includes the static checks: main stays lint- and type-clean.
# tests/provision.sh installs and starts the real services the tests talk to. The suite runs
# on every core (pytest-xdist): each test owns its brokers, ports, folders and databases.
# It prints its 15 slowest tests: the suite must stay under ~15 minutes on 2 cores.
test: $(STAMP) check
	source tests/provision.sh && $(BIN)/python -m pytest -n auto --durations=15

# Every parser (device payloads, wire messages, API bodies) with 10,000 examples instead of
# make test's 1,000, in one process so the examples per parser are counted and printed.
fuzz: $(STAMP)
	LINLI_FUZZ_PROFILE=fuzz $(BIN)/python -m pytest tests/fuzz -q -p no:cacheprovider

check: lint typecheck

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Each benchmark prints its figures beside a baseline measured in the same run.
bench: $(STAMP)
	$(BIN)/python -m bench.alerts_to_cases
	$(BIN)/python -m bench.access_decision
	$(BIN)/python -m bench.telemetry
	$(BIN)/python -m bench.camera fps
	$(BIN)/python -m bench.camera eval

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
