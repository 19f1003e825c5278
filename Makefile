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

# From Debian's packages where the machine lacks them: Maven fetches the Trino parts from Maven
# Central; Chromium and its driver open the dashboards in a real headless browser in the tests.
system-deps:
	@missing=""; \
	command -v mvn >/dev/null || missing="$$missing maven"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	test -x /usr/bin/chromedriver || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing (apt-get; its output in var/log/apt.log)"; mkdir -p var/log; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; } \
	      >var/log/apt.log 2>&1 || { tail -20 var/log/apt.log >&2; exit 1; }; \
	  else echo "citylake needs the Debian packages:$$missing (apt-get install$$missing)" >&2; exit 1; fi; \
	fi

trino-start: setup
	$(BIN)/citylake trino start

trino-stop:
	$(BIN)/citylake trino stop

clean: trino-stop
	rm -rf var
