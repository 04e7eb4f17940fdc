# The two entry points are `make demo` and `make test`; everything else is what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
QIUZHU := $(BIN)/qiuzhu

.PHONY: demo test setup lint pytest es-start es-stop clean browser

demo: setup
	$(QIUZHU) demo

test: setup browser lint pytest

setup: $(VENV)/.installed node_modules/.installed
	$(QIUZHU) es fetch

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy qiuzhu crawlers pipeline classify index ingest api bench cli.py scheduler.py

pytest:
	$(BIN)/pytest

es-start: setup
	$(QIUZHU) es start

es-stop:
	$(QIUZHU) es stop

clean:
	rm -rf $(VENV) node_modules build *.egg-info

# Debian's Chromium and a CJK font for the console tests (Playwright's own browser downloads
# do not work offline); installed only when missing.
browser:
	@test -x /usr/bin/chromium && fc-list :lang=zh | grep -q . || \
		(apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei)
