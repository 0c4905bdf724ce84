# The few verbs people use. Every target first makes sure .venv matches requirements.lock.
VENV   ?= .venv
PY     := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: env demo serve test test-fast drill bench lint format lock airflow clean-data help

help:
	@echo "make demo   - run the main job on embedded defaults (creates .venv on first use)"
	@echo "make serve  - run the department service (127.0.0.1 port 8800)"
	@echo "make test   - run the whole test suite"
	@echo "make drill  - the crash drill in full (10 seeded SIGKILL points per stage)"
	@echo "make bench  - run the benchmarks and print figures"
	@echo "make lint   - ruff check + format check"
	@echo "make lock   - re-resolve requirements.in into requirements.lock"

env:
	@scripts/ensure_env.sh

demo: env
	$(VENV)/bin/govlake demo

serve: env
	$(VENV)/bin/govlake serve

# Two pytest workers (one per core of the reference machine), each taking whole test files, so a
# module's fixtures (a Spark session, a lake, a PostgreSQL server) are built once per worker.
# A fixed count, not "auto": every worker starts its own Spark and PostgreSQL.
# --durations: the slowest tests are in every CI log, where the suite's time budget is kept.
test: env
	@scripts/ensure_test_packages.sh
	DRILL_POINTS=0 $(PY) -m pytest -n 2 --dist loadfile --durations=25

# The crash drill in full: SIGKILL at 10 seeded points of ingestion, base build and share refresh
# (make test kills each stage once at every kind of point).
drill: env
	$(PY) -m pytest tests/drill -s

test-fast: env
	$(PY) -m pytest -m "not slow"

bench: env
	$(PY) -m bench

# Airflow 3 standalone (API server + UI, scheduler, DAG processor, triggerer) on data/airflow.
# AIRFLOW_PORT=8081 make airflow for another port; Ctrl-C stops everything.
AIRFLOW_PORT ?= 8080
airflow: env
	$(VENV)/bin/govlake airflow standalone --port $(AIRFLOW_PORT)

lint: env
	$(VENV)/bin/ruff check jobs dags tests bench
	$(VENV)/bin/ruff format --check jobs dags tests bench

format: env
	$(VENV)/bin/ruff check --fix jobs dags tests bench
	$(VENV)/bin/ruff format jobs dags tests bench

lock: env
	$(VENV)/bin/uv pip compile requirements.in --python-version 3.11 --no-header -o requirements.lock

clean-data:
	rm -rf data/landing data/lake data/reports data/airflow data/tmp
