# `make dev` runs the whole system on this machine; `make test` proves it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export FLASK_APP := wsgi
# Local state (SQLite file, embedded broker data, generated secrets); the app reads the same variable.
VAR_DIR ?= $(CURDIR)/var
export VAR_DIR
# Processes honcho starts; the embedded broker only when no REDIS_URL is given.
PROCS  := $(if $(REDIS_URL),web worker vmworker beat flower,broker web worker vmworker beat flower)

.PHONY: dev test lint setup system-deps db bench clean help
help:
	@echo "make dev    install what is missing, migrate, start web, workers, beat, flower (and the broker)"
	@echo "make test   install what is missing, run the whole test suite"
	@echo "make lint   ruff (lint + format check), mypy on app/, and the layer contracts (lint-imports)"
	@echo "make bench  run the benchmarks"

system-deps:
	@bash deploy/system-deps.sh

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstall only when a requirements file changed.
$(VENV)/.installed: requirements.txt $(VENV)/bin/python
	$(BIN)/pip install -q -r requirements.txt
	@touch $@
$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	@touch $@

setup: system-deps $(VENV)/.installed

db: setup
	@$(BIN)/python -m app.localstate
	@$(BIN)/flask db upgrade
	@$(BIN)/flask users bootstrap
	@$(BIN)/flask providers bootstrap

dev: db
	@echo ""
	@echo "  web     http://$${WEB_HOST:-127.0.0.1}:$${WEB_PORT:-5000}/   (log in as admin)"
	@echo "  flower  http://$${WEB_HOST:-127.0.0.1}:$${WEB_PORT:-5000}/flower/   (admins, through the app)"
	@echo "  broker  $(if $(REDIS_URL),the one REDIS_URL names,$$($(BIN)/python -m app.devbroker url)   (embedded Valkey, data in $(VAR_DIR)/broker))"
	@echo "  health  http://$${WEB_HOST:-127.0.0.1}:$${WEB_PORT:-5000}/healthz"
	@echo "  Ctrl-C stops everything."
	@echo ""
	@exec $(BIN)/honcho start -f Procfile $(PROCS)

test: setup $(VENV)/.installed-dev
	@bash deploy/system-deps.sh --test
	$(BIN)/pytest $(PYTEST_ARGS)

lint: setup $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: setup $(VENV)/.installed-dev
	@for f in bench/bench_*.py; do [ -e "$$f" ] && $(BIN)/python "$$f"; done; true

clean:
	rm -rf $(VENV) .pytest_cache test-output
