# cx-insights: `make run` and `make test` bootstrap everything from a fresh clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export GX_ANALYTICS_ENABLED := false
export DAGSTER_DISABLE_TELEMETRY := true

.PHONY: run test unit lint install clean benchmark dev chromium postgres java databricks-check

# The venv is (re)installed only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# dbt-databricks needs dbt-spark 1.10 and pandas 2.2, below the project's pins: it
# gets a virtual environment of its own, used only to compile the project for
# Databricks (tests/databricks_compile.py: the same SQL as on Spark).
DATABRICKS_VENV := .venv-databricks
DATABRICKS_STAMP := $(DATABRICKS_VENV)/.installed
$(DATABRICKS_STAMP): requirements-databricks.txt
	@test -x $(DATABRICKS_VENV)/bin/python || $(PYTHON) -m venv $(DATABRICKS_VENV)
	$(DATABRICKS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DATABRICKS_VENV)/bin/python -m pip install --quiet -r requirements-databricks.txt
	@touch $(DATABRICKS_STAMP)

databricks-check: $(STAMP) $(DATABRICKS_STAMP)
	$(BIN)/python -m tests.databricks_compile --databricks-dbt $(DATABRICKS_VENV)/bin/dbt

run: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/cx-insights run

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/tests --processes 2
	$(BIN)/python -m cx_insights.dbt_sources --check
	$(BIN)/python -m cx_insights.privacy --check

# Headless Chromium for the dashboard's browser test: Debian's package (never a
# browser downloaded by a test tool). Installed when missing and we are root.
chromium:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# PostgreSQL's server programs for CX_TARGET=postgres without CX_POSTGRES_DSN (the
# project then runs its own cluster): Debian's package, installed when initdb is
# missing and we are root. The package's own cluster is not used (nor started).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || \
		[ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			postgresql >/dev/null; }

# A Java runtime for CX_TARGET=spark (the pyspark wheel brings Spark, not Java):
# Debian's OpenJDK 17, installed when `java` is missing and we are root.
java:
	@command -v java >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			openjdk-17-jre-headless >/dev/null; }

# The fast tier: pure logic, the loader and the gate, dbt unit tests (under 2 minutes),
# on two workers as `make test` (one alone took 2:19 on 2026-12-07).
unit: $(STAMP) postgres
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -m "not slow" -n 2 --dist loadfile

# Two workers (pytest-xdist), each taking whole test files: a file's module
# fixtures (a built warehouse, a Spark server) are built once, and the session's
# sample build once per worker. One worker alone left a core idle about half the time.
test: $(STAMP) lint databricks-check chromium postgres java
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q --durations=25 -n 2 --dist loadfile

benchmark: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/run.py

# The Dagster UI on the instance `cx-insights run` writes: DAGSTER_HOME beside the
# warehouse (warehouse/dagster_home by default, or beside CX_WAREHOUSE) unless set.
dev: $(STAMP)
	home="$$($(BIN)/python -m orchestration.instance)" && \
		PATH="$(CURDIR)/$(BIN):$$PATH" DAGSTER_HOME="$$home" \
		$(BIN)/dagster dev -m orchestration.definitions

clean:
	rm -rf warehouse dbt_project/target dbt_project/target-* dbt_project/logs .pytest_cache
