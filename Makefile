# Two commands do everything on a fresh machine with python3 and make: `make demo`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

CHROMIUM := /usr/bin/chromium

.PHONY: demo test lint typecheck unit integration browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian's Chromium for tests/browser (Playwright drives it; it never downloads a browser).
# Installed once, as root; `apt-get update` only when the package lists cannot find it.
$(CHROMIUM):
	@if [ "$$(id -u)" != 0 ]; then \
	  echo "tests/browser needs Debian's chromium: sudo apt-get install chromium (they skip without it)"; \
	elif ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

browser: $(STAMP) $(CHROMIUM)
	$(BIN)/pytest -q tests/browser

demo: $(STAMP)
	$(BIN)/lambda-promote demo

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

integration: $(STAMP)
	$(BIN)/pytest -q tests/integration

test: lint typecheck $(CHROMIUM)
	$(BIN)/pytest -q tests

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
