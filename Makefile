# Two commands do all the set-up: `make run` (dashboard on data/scheduler.db with demo data) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed-requirements

.PHONY: run test soak db seed clean-venv health bench

$(INSTALLED): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $(INSTALLED)

db: $(INSTALLED)
	@mkdir -p -m 700 data
	$(PY) -m services db upgrade
	$(PY) -m services demo seed --if-empty
	$(PY) -m services users bootstrap

run: db
	$(PY) -m streamlit run dashboard/server.py

test: $(INSTALLED)
	$(PY) -m pytest

# The stateful chaos test of the paired actions (tests/test_paired_actions_stateful.py) with 2,000 examples instead of
# `make test`'s 200 (on PostgreSQL too when TEST_DATABASE_URL is set). Takes several minutes.
soak: $(INSTALLED)
	SOAK_EXAMPLES=2000 $(PY) -m pytest tests/test_paired_actions_stateful.py -k keep_the_invariants

clean-venv:
	rm -rf $(VENV)

health: $(INSTALLED)
	$(PY) -m services health

# The scale benchmark (bench/run.py): 10k / 100k / 1M events, writes docs/benchmarks.md. Building the databases takes a
# few minutes the first time (kept in data/). BENCH_POSTGRES=postgresql+psycopg://... adds PostgreSQL.
bench: $(INSTALLED)
	$(PY) -m bench.run $(if $(BENCH_POSTGRES),--postgres $(BENCH_POSTGRES),)
