# pv-survey: `make run` and `make test` work on a fresh machine with Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Test processes (pytest-xdist): one per core; most of the suite waits on subprocesses and files,
# so two processes on two cores halve its time. TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= auto

.PHONY: run test bench bench-scale bench-read bench-outputs demo-data clean help

help:
	@echo "make run        install into .venv and survey the embedded Tianhe demo district"
	@echo "make test       install and run the test suite"
	@echo "make bench      energy, shading, module-layout (whole run and place_modules alone) and flux-raster benchmarks (results in bench/results/)"
	@echo "make bench-scale  10k / 100k / 1M-building synthetic city end to end (bench/results/scale.*)"
	@echo "make bench-read   peak memory of reading 100k / 300k buildings in one go and in windows (bench/results/read_windows.*)"
	@echo "make bench-outputs  the outputs stage alone on a 40k-building synthetic city (bench/results/outputs.*)"
	@echo "make demo-data  regenerate data/ byte-for-byte"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]' \
	  || { echo "note: pinned versions unavailable here; installing from the ranges in pyproject.toml"; \
	       $(BIN)/python -m pip install --quiet -e '.[test]'; }
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/pv-survey run --out outputs/tianhe-demo --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --durations=15

bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-scale: $(STAMP)
	$(BIN)/python -m bench.bench_scale

bench-read: $(STAMP)
	$(BIN)/python -m bench.bench_read --sizes 100000 300000 --windows 10000 50000
	$(BIN)/python -m bench.windows_e2e --buildings 60000 --window 25000

bench-outputs: $(STAMP)
	$(BIN)/python -m bench.bench_outputs --buildings 40000 --repeat 2

demo-data: $(STAMP)
	$(BIN)/pv-survey demo-data --out data

clean:
	rm -rf $(VENV) outputs/* build *.egg-info
