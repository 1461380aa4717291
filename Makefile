# Field-service platform: developer and CI entry points.
# `make help` lists the targets. Everything runs from the virtualenv in .venv.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
NODE_STAMP = node_modules/.installed
PYTEST_ARGS ?=
CONFIG ?= config.yml

# Every services/<name>/service.py becomes services.<name>.service:<Class>, the class
# being the module's `class ...Service(` (nameko would otherwise take every class with
# entrypoints in the module for a service, route mixins included), so a new service
# joins `make run` as soon as its service.py exists.
SERVICE_MODULES := $(sort $(foreach f,$(wildcard services/*/service.py),$(subst /,.,$(f:.py=)):$(shell grep -m1 -o '^class [A-Za-z0-9_]*Service' $(f) | cut -d' ' -f2)))

.PHONY: help venv tools rabbitmq test test-fast test-py312 demo run bench lint clean distclean

# Development targets: the services accept the development AUTH_SECRET (FSM_DEV=1); without
# it every service refuses to start until FSM_AUTH_SECRET is set to a real secret.
test test-py312 demo run bench: export FSM_DEV := 1

help: ## list the targets
	@echo "usage: make <target> [PY=python3.11] [PYTEST_ARGS='-k intake']"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort \
	  | awk 'BEGIN {FS = ":.*## "} {printf "  %-10s %s\n", $$1, $$2}'
	@echo "services found: $(if $(SERVICE_MODULES),$(SERVICE_MODULES),(none yet))"

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	@touch $@

# the front-end assets do not depend on the Python version: one node_modules/ serves every venv
$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	@touch $@

venv: $(STAMP) $(NODE_STAMP) ## create the venv (VENV=.venv, PY=python3) and install the project with its test extras (pinned)

tools: ## install the system tools the tests use (promtool, pdftotext, chromium, CJK font) if missing
	@bash scripts/ensure_tools.sh

rabbitmq: ## make sure RabbitMQ (and its management API) answers at AMQP_URI
	@bash scripts/ensure_rabbitmq.sh

# The suite as TEST_SHARDS concurrent pytest processes over disjoint sets of test files, balanced
# by scripts/test_durations.json (many tests wait on RabbitMQ, a browser or a subprocess, so two
# finish sooner than one even on two cores); each shard's log and junit XML in var/test-shards/,
# printed as it ends; it fails if any shard fails. TEST_SHARDS=1, or test paths in PYTEST_ARGS,
# run one plain pytest. `scripts/sharded_pytest.py --record` re-measures the seconds per file.
TEST_SHARDS ?= 2

test: venv tools rabbitmq ## run the test suite in TEST_SHARDS (2) processes (pass options with PYTEST_ARGS=...)
	$(BIN)/python scripts/sharded_pytest.py --shards $(TEST_SHARDS) -q --durations=20 $(PYTEST_ARGS)

test-fast: venv ## the unit tests without the slow ones (under 30 s; no broker needed)
	$(BIN)/pytest -q -m "unit and not slow" $(PYTEST_ARGS)

# Python 3.12: the same pinned dependencies in their own venv, the fast unit tests, then a smoke
# of the services under it (`make run` up, and stopped by Ctrl-C under load; the gateway's API;
# timers, a re-plan and per-service processes stopped by signals). About 3 minutes with the venv
# to build; `make test` is the whole suite, on Python 3.11. CI (.ci/run) runs both.
PY312 ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python; do \
  "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null && { echo "$$p"; break; }; done)
VENV312 ?= .venv312
PY312_SMOKE ?= tests/e2e/test_make_run.py tests/service/test_gateway_api.py tests/service/test_clean_stop.py \
  -m "not chaos" -k "not SIGTERM"

test-py312: tools rabbitmq ## Python 3.12 (PY312=...): its venv (.venv312), the fast unit tests and a service smoke
	@test -n "$(PY312)" || { echo "no Python 3.12 found: make test-py312 PY312=/path/to/python3.12" >&2; exit 1; }
	@$(MAKE) --no-print-directory venv PY=$(PY312) VENV=$(VENV312)
	$(VENV312)/bin/pytest -q -m "unit and not slow" $(PYTEST_ARGS)
	$(VENV312)/bin/pytest -q $(PY312_SMOKE) $(PYTEST_ARGS)

demo: venv tools rabbitmq ## run all services in-process, play a scenario, print a report
	$(BIN)/fsm demo

run: venv rabbitmq ## run every service in one `nameko run` (Ctrl-C stops)
	@test -n "$(SERVICE_MODULES)" || { echo "no services/*/service.py found" >&2; exit 1; }
	@mkdir -p var
	$(BIN)/nameko run --config $(CONFIG) $(SERVICE_MODULES)

# Each bench/*.py is a standalone script (it starts what it needs and prints
# its numbers); they run one after another, output in bench/out/ if they write any.
bench: venv rabbitmq ## run the benchmark scripts in bench/
	@shopt -s nullglob; scripts=(bench/*.py); \
	if (( $${#scripts[@]} == 0 )); then echo "no bench/*.py scripts yet"; exit 0; fi; \
	mkdir -p bench/out; \
	for s in "$${scripts[@]}"; do echo "== $$s"; $(BIN)/python "$$s"; done

# What CI runs before the tests (.ci/run): nothing here runs the code. ruff's and mypy's
# settings are pyproject.toml's ([tool.ruff]; [tool.mypy], whose `files` plain mypy checks).
lint: venv ## ruff (lint, format), mypy (strict: shared/, domains), compileall, pip check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m compileall -q shared services fsm tests $(wildcard bench)
	$(BIN)/python -m pip check

clean: ## remove var/ (SQLite databases, logs) and caches; keeps .venv
	rm -rf var .pytest_cache build
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -print0 | xargs -0 rm -rf
	rm -rf bench/out

distclean: clean ## clean, and remove .venv and the egg-info too
	rm -rf $(VENV) *.egg-info
