# Two entry points for a fresh machine (Python 3.11+, make):
#   make run   installs into .venv and runs the main job (a short tour of the engine)
#   make test  installs the test dependencies and runs the whole suite (slow tests included)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test
SHELL  := /bin/bash
.SHELLFLAGS := -eo pipefail -c

# pip's progress, one short line per package (its full log is hundreds of lines; its
# "(from ...)" chains and its list of every package installed run to 1,000 characters)
PROGRESS := awk '/^Collecting/ { sub(/ \(from .*/, ""); print "  " $$0; fflush() } \
	/^Successfully built/ { print "  " $$0; fflush() } \
	/^Successfully installed/ { n = NF - 2; print "  Successfully installed " n " package" \
	(n == 1 ? "" : "s"); fflush() } \
	/^ERROR/ { print; fflush() }'
# setuptools says "be careful with folders ... named like your package" on every editable
# install of a flat layout: here those folders are the package itself, so it is noise
export PYTHONWARNINGS := ignore:Editable installation

.PHONY: run test browser test-fast test-slow install install-test lint typecheck bench bench-all clean

$(BIN)/python:
	@echo "== creating $(VENV) with $$($(PYTHON) --version)"
	$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	@echo "== installing regional-triage and its dependencies into $(VENV) (about a minute the first time)"
	@echo "pip install -c constraints.txt -e '.[all]'"
	@$(BIN)/python -m pip install -c constraints.txt -e '.[all]' 2>&1 | $(PROGRESS)
	@# an editable install has no bytecode and PYTHONDONTWRITEBYTECODE may forbid writing it:
	@# compiled once here, as pip does for a wheel (each `triage` start saves ~0.1 s)
	@$(BIN)/python -m compileall -q optimiser models > /dev/null
	@touch $@

$(TSTAMP): pyproject.toml constraints.txt $(STAMP)
	@echo "== installing the test dependencies into $(VENV)"
	@echo "pip install -c constraints.txt -e '.[test,dev]'"
	@$(BIN)/python -m pip install -c constraints.txt -e '.[test,dev]' 2>&1 | $(PROGRESS)
	@touch $@

install: $(STAMP)
install-test: $(TSTAMP)

# The main job: what the engine answers, why, and what fairness costs, in four short steps.
run: $(STAMP)
	@echo
	@echo "== 1/4 Where do 2,400 ventilators save the most lives? (50 US states, April 2020)"
	@$(BIN)/triage solve instances/us-states-2020
	@echo
	@echo "== 2/4 The same with a fairness floor: every state gets 30% of its per-capita share"
	@$(BIN)/triage solve instances/us-states-2020 --constraint per_capita_floor:share=0.3
	@echo
	@echo "== 3/4 The allocation rules people use, beside the optimum"
	@$(BIN)/triage compare instances/us-states-2020
	@echo
	@echo "== 4/4 Table 1 of Pugh et al. 2021 (four regions, no survival data)"
	@$(BIN)/triage compare instances/pugh2021
	@echo
	@echo "Next: README.md and '$(BIN)/triage --help'. A decision report (HTML, charts, maps):"
	@echo "  $(BIN)/triage report instances/us-states-2020 --out report/"

# Headless Chromium renders the HTML charts in the chart tests (skipped without it). As root on
# Debian, `make test` installs Debian's chromium once (about 2 minutes); elsewhere install it
# yourself. A failed install only means those tests are skipped, and says so.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "== installing headless Chromium (Debian's chromium) for the chart-rendering tests"; \
	    { timeout 600 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 \
	      apt-get install -y -qq chromium; } >/dev/null 2>&1 \
	      || echo "   could not install chromium: the chart-rendering tests will be skipped"; \
	  else echo "== no chromium: the chart-rendering tests will be skipped"; fi; }

# The whole suite (CI, the README's second command): the default tests, then the slow ones
# (soak, fault and long end-to-end tests, marked @pytest.mark.slow).
test: $(TSTAMP) browser
	$(BIN)/python -m pytest -q -m "slow or not slow"

test-fast: $(TSTAMP)  # the default selection: under 6 minutes on 2 cores
	$(BIN)/python -m pytest -q

test-slow: $(TSTAMP)
	$(BIN)/python -m pytest -q -m slow

lint: typecheck
	$(BIN)/ruff check optimiser models tests benchmarks scripts

typecheck: $(TSTAMP)
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
