# Two commands for a newcomer: `make demo` and `make test`. Both create or reuse .venv,
# install the pins, and migrate the Airflow DB (.airflow/, SQLite) on a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
AF := $(PY) scripts/airflow_env.py

# `make up` / `make down`: the demo in a local Airflow with its UI (scripts/local_airflow.py)
PORT ?= 8080
USERSIDE_POOL_SLOTS ?= 2

.PHONY: venv db test demo up down lint bench bench-many chaos clean

venv: $(VENV)/.editable
$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-dev.txt -c constraints.txt
	touch $@
# this package, editable (its pins are installed above): `usm-billing` and
# `python -m usm_billing` work in the venv without PYTHONPATH
$(VENV)/.editable: $(VENV)/.installed
	$(PY) -m pip install --disable-pip-version-check -q --no-deps -e .
	touch $@

# `make bench` also draws its chart (matplotlib): pinned apart, the tests never need it
$(VENV)/.bench: $(VENV)/.editable requirements-bench.txt constraints.txt
	$(PY) -m pip install --disable-pip-version-check -q -r requirements-bench.txt -c constraints.txt
	touch $@

db: .airflow/airflow.db
.airflow/airflow.db: $(VENV)/.editable
	$(AF) $(VENV)/bin/airflow db migrate > .airflow-migrate.log 2>&1 || (cat .airflow-migrate.log; exit 1)
	rm -f .airflow-migrate.log

test: db
	$(AF) $(PY) -m pytest -n 2 --dist loadfile

demo: db
	$(AF) $(PY) scripts/demo.py

up: db
	$(AF) $(PY) scripts/local_airflow.py up --port $(PORT) --pool-slots $(USERSIDE_POOL_SLOTS)

down:
	$(AF) $(PY) scripts/local_airflow.py down

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	PYTHONPATH=plugins $(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

bench: $(VENV)/.bench
	$(AF) $(PY) scripts/bench.py

bench-many: venv
	$(AF) $(PY) scripts/bench_many.py

clean:
	-test ! -x $(PY) || $(AF) $(PY) scripts/local_airflow.py down  # no orphans of `make up`
	rm -rf .airflow .demo .bench .chaos

chaos: venv
	$(AF) $(PY) scripts/chaos.py
	$(AF) $(PY) scripts/chaos_hostile.py
