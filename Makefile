# The two commands of the README:
#   make reproduce   set up .venv (first time), generate the embedded data, run every notebook
#   make test        set up .venv (first time), run the unit tests and nbval on the smoke profile
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PROFILE ?= auto

.PHONY: setup reproduce test test-fast lab bench clean-data

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --editable ".[test]"
	@touch $(STAMP)

setup: $(STAMP)

reproduce: $(STAMP)
	$(PY) -m serlib.run --profile $(PROFILE)

test: $(STAMP)
	$(PY) -m pytest

test-fast: $(STAMP)
	$(PY) -m pytest tests -p no:nbval

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

bench: $(STAMP)
	$(PY) benchmarks/bench_noise.py
	$(PY) benchmarks/bench_features.py

clean-data:
	rm -rf data/
