# Two entry points for a fresh machine (Python 3.11+, make):
#   make run   installs into .venv and runs the main job on instances/pugh2021
#   make test  installs the test dependencies and runs the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test install install-test lint typecheck bench bench-all clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

$(TSTAMP): pyproject.toml constraints.txt $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,dev]'
	touch $@

install: $(STAMP)
install-test: $(TSTAMP)

run: $(STAMP)
	$(BIN)/triage solve instances/pugh2021
	@echo
	$(BIN)/triage compare instances/pugh2021
	@echo
	$(BIN)/triage solve instances/pugh2021 --constraint per_capita_floor:share=0.6 --constraint min_units:units=150
	@echo
	@echo "# Table 1 gives no survival data, so every useful unit saves one life there and fairness"
	@echo "# costs none. On the 50 US states (IHME lengths of stay) a per-capita floor costs lives:"
	$(BIN)/triage solve instances/us-states-2020 --constraint per_capita_floor:share=0.3

test: $(TSTAMP)
	$(BIN)/python -m pytest -q

lint: $(TSTAMP)
	$(BIN)/ruff check optimiser models tests benchmarks scripts
	$(BIN)/mypy optimiser models

# benchmarks (BENCHMARKS.md), never part of the test suite
bench: $(TSTAMP)
	$(BIN)/python benchmarks/regional_bench.py
	$(BIN)/python benchmarks/sweep_bench.py
	$(BIN)/python benchmarks/multiperiod_bench.py --modes engine --repeat 1

bench-all: bench  # adds the slow floors (about 30 minutes) and the service load test
	$(BIN)/python benchmarks/multiperiod_bench.py --modes direct pyomo --repeat 1
	$(BIN)/python benchmarks/service_load.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
