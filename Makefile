# citylake: the two front-door commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: demo setup test benchmark trino-start trino-stop clean system-deps

## demo: set up on a fresh machine, generate a small city, land it, start Trino, build the dashboards
demo: setup
	$(BIN)/citylake demo

## setup: the virtual environment and every JVM part (Trino, Trino CLI, Delta jars), all cached
setup: $(STAMP)
	$(BIN)/citylake setup

## test: the whole suite against a real Spark session, Trino server and notebook kernel
test: $(STAMP)
	$(BIN)/pytest

$(STAMP): pyproject.toml | system-deps
	@command -v $(PYTHON) >/dev/null || { echo "citylake needs $(PYTHON) on PATH" >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

# Maven fetches the Trino parts from Maven Central; install it where the machine lacks it.
system-deps:
	@command -v mvn >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq maven; \
	  else echo "citylake needs Maven (mvn): install the 'maven' package" >&2; exit 1; fi; }

trino-start: setup
	$(BIN)/citylake trino start

trino-stop:
	$(BIN)/citylake trino stop

clean: trino-stop
	rm -rf var
