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

## In-page versus native onnxruntime, per model: writes bench/results/latest.json and prints a table.
bench: setup
	$(PY) bench/bench.py

clean:
	rm -rf dist .pytest_cache
