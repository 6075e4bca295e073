# Harbour — everyday commands. Needs only Python >= 3.11 on a fresh machine: `make run` and
# `make test` create .venv and install the project (pip, from the package registry) themselves.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test check lint fmt clean reading-age lock

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install only when pyproject.toml or the pins changed since the last install. The pins
# (constraints.txt) make a fresh clone install what CI last passed with, not whatever was
# released since: a new ruff, say, would otherwise reformat and fail the lint overnight.
$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -c constraints.txt -e '.[dev]'
	touch $(STAMP)

run: $(STAMP) ## Start Temporal (dev server), SQLite, the SMTP sink, a worker and the API (:8000); Ctrl-C stops all
	$(BIN)/python -m devstack

# PYTHONWARNINGS is deliberately not set here: pytest's filterwarnings in pyproject.toml decide.
# PYTHONDONTWRITEBYTECODE is unset for pytest: it rewrites the asserts of every test module and
# of hypothesis' and schemathesis' whole packages (they are pytest plugins) as it imports them,
# and without the bytecode cache it does so again on every run (about 2 s of each).
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest

# The fast tier: unit, workflow (time-skipping), API with a modest schemathesis budget.
test: $(STAMP) ## The fast tier: everything but the slow tests, schemathesis at 40 examples
	HARBOUR_SCHEMATHESIS_EXAMPLES=$${HARBOUR_SCHEMATHESIS_EXAMPLES:-40} $(PYTEST) -m "not slow"

check: $(STAMP) lint ## Everything, as CI runs it: lint, Compose, every test, 500 examples each
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	$(PYTEST)

reading-age: $(STAMP) ## Print the reading age of every letter, text and page a client reads
	$(BIN)/python -m bench.reading_age

lint: $(STAMP) ## ruff check + ruff format --check + the layers' import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

fmt: $(STAMP) ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean: ## Remove caches and build output (keeps .venv and data/)
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +

# A scratch virtualenv takes the newest versions pyproject.toml allows; its list becomes the pins.
lock: | $(BIN)/python ## Re-pin every dependency to the newest allowed (constraints.txt); then make check
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install -q -e '.[dev]'
	{ echo "# Every dependency pinned, for installs that do not change under us (make lock refreshes it)."; \
	  .venv-lock/bin/python -m pip freeze --exclude-editable; } > constraints.txt
	rm -rf .venv-lock
