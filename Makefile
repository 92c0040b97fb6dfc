# mathmine: `make iterate` (sets itself up, runs the loop on the bundled sample) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: setup iterate report benchmarks train-demo test bench eval-loop lint package clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

setup: $(STAMP)

iterate: $(STAMP)
	$(VENV)/bin/mathmine iterate $(ARGS)

report: $(STAMP)
	$(VENV)/bin/mathmine report $(ARGS)

# Benchmark test sets for decontamination, from their pinned upstream commits (never shipped with the repo).
benchmarks: $(STAMP)
	$(PY) -m jobs.benchmarks --root data/benchmarks $(ARGS)

# The training stage on CPU in a few minutes: synthetic arithmetic -> shards -> CPT -> GRPO -> eval.
train-demo: $(STAMP)
	$(VENV)/bin/mathmine train demo --out work/train-demo $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q -ra tests $(ARGS)

bench: $(STAMP)
	bash tests/bench/datatrove/setup.sh
	$(PY) -m tests.bench.run $(ARGS)
	$(PY) -m tests.bench.dedup $(ARGS)
	$(PY) -m tests.bench.tables $(ARGS)
	$(PY) -m tests.bench.classify $(ARGS)
	$(PY) -m tests.bench.decontam $(ARGS)
	$(PY) -m tests.bench.tokenize $(ARGS)
	$(PY) -m tests.bench.grpo $(ARGS)

# The classifier loop on a labelled crawl of real pages with a simulated annotator (not a test: minutes).
eval-loop: $(STAMP)
	$(PY) -m tests.bench.loop_eval $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check pipeline jobs tests

# The zip a cluster job ships to executors (the job builds its own; this is for inspection).
package: $(STAMP)
	@mkdir -p dist
	$(PY) -c "from pipeline.spark import package_zip; print(package_zip('dist'))"

clean:
	rm -rf work .pytest_cache .ruff_cache dist build *.egg-info
