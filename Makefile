# The README's two commands, `make demo` and `make test`, plus the pieces they are made of.
# Everything Python lives in .venv/; the servers are started by devservers/ (docs/local-servers.md).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Rebuilt only when pyproject.toml changes (or the venv is deleted).
STAMP := $(VENV)/.installed-from-pyproject
SERVER_LOGS = $${DEVSERVERS_HOME:-$(CURDIR)/.devservers}/logs
PYTEST_ARGS ?=

.PHONY: venv up down status reset test lint demo chaos fuzz

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $@

up: venv
	$(BIN)/python -m devservers up

down: venv
	$(BIN)/python -m devservers down

status: venv
	$(BIN)/python -m devservers status

# Stop both servers and delete their data, state and logs (the cached Kafka jars stay).
reset: venv
	$(BIN)/python -m devservers reset

# The fixtures start Kafka and PostgreSQL when a test asks for them (or use
# KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL). Exits with pytest's own code; with
# PYTEST_STATUS_FILE set, also writes that code there (make itself can only say 2).
test: venv
	@status=0; $(BIN)/python -m pytest $(PYTEST_ARGS) || status=$$?; \
	if [ -n "$${PYTEST_STATUS_FILE:-}" ]; then echo $$status > "$$PYTEST_STATUS_FILE"; fi; \
	if [ $$status -ne 0 ]; then \
	  echo "pytest exited with $$status; server logs are in $(SERVER_LOGS) ($(BIN)/python -m devservers logs)"; \
	fi; \
	exit $$status

# Lint and types, as CI runs them (.ci/run): ruff over everything, mypy --strict over every package.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check --quiet .
	$(BIN)/mypy

# The README's main command: local Kafka and PostgreSQL, both services, a generated day of
# claims published as a hospital system would, and a summary (scripts/demo.py).
demo: venv
	$(BIN)/python scripts/demo.py

# Seeded SIGKILL campaigns and boundary fuzzing (docs/reliability.md); e.g. make chaos RUNS=200 SEED=1.
RUNS ?= 8
SEED ?= 1
MESSAGES ?= 100000
chaos: venv
	$(BIN)/python scripts/chaos.py --runs $(RUNS) --seed $(SEED) --target all

fuzz: venv
	$(BIN)/python scripts/fuzz.py --messages $(MESSAGES) --seed $(SEED)
