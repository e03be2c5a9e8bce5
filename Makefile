# Entry points. Each target sets up what it needs first (scripts/setup.sh is idempotent).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo serve test test-fast bench clean

setup:
	bash scripts/setup.sh

## Build, serve on http://127.0.0.1:8000/ and open the webcam demo.
demo: setup
	$(VENV)/bin/inpage serve --open

serve: demo

## The whole suite: unit, build, server, and end-to-end tests in headless Chromium.
test: setup
	$(PY) -m pytest

## Unit tests only (no browser).
test-fast: setup
	$(PY) -m pytest -m "not browser"

## Every model and variant: native, in the page, and a plain-JS page; live loop; visits.
## Writes bench/results/latest.{json,md,png}. BENCH_ARGS=--keep-variants records the winners.
BENCH_ARGS ?=
bench: setup
	$(PY) bench/bench.py $(BENCH_ARGS)

clean:
	rm -rf dist .pytest_cache
