# Two commands do all the set-up: `make run` (dashboard on data/scheduler.db with demo data) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Two sets, both in pyproject.toml, each with its stamp so that editing pyproject.toml reinstalls: the runtime set
# ([project] dependencies, `pip install .`: run, db, health) and the development set (the `dev` extra on top, tests,
# ruff, mypy, benchmark, pip-audit, `pip install '.[dev]'`: test, soak, bench, audit). What pip installs for the project
# itself is metadata only (pyproject.toml [build-system]): the code is run from this folder.
INSTALLED := $(VENV)/.installed-runtime
INSTALLED_DEV := $(VENV)/.installed-dev

.PHONY: run test soak db seed clean-venv health bench bench-browser audit install install-dev screenshots

$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check '.'
	@touch $(INSTALLED)

$(INSTALLED_DEV): pyproject.toml $(INSTALLED)
	$(PY) -m pip install --quiet --disable-pip-version-check '.[dev]'
	@touch $(INSTALLED_DEV)

install: $(INSTALLED)

install-dev: $(INSTALLED_DEV)

db: $(INSTALLED)
	@mkdir -p -m 700 data
	$(PY) -m services db upgrade
	$(PY) -m services demo seed --if-empty
	$(PY) -m services users bootstrap

run: db
	$(PY) -m streamlit run dashboard/server.py

# Three worker processes (pytest-xdist), each test file in one worker (module fixtures: one app server, one seeded
# database per file): much of the suite waits on servers, browsers, subprocesses and timeouts, so on two cores a third
# worker fills the time the other two wait (the suite needs about 18 minutes of CPU, user and system; with two workers
# it took 17.5 minutes of wall time, so the two cores were idle half of it; with three, 14 minutes). TEST_WORKERS=0 runs it in this process (what `pytest` alone does). The 20 slowest tests
# are listed at the end, to keep CI within its 20 minutes. Ruff, then mypy over services/ (both configured in
# pyproject.toml) run first: a lint or type error fails the run before any test.
TEST_WORKERS ?= 3
test: $(INSTALLED_DEV)
	$(PY) -m ruff check --quiet .
	$(PY) -m mypy
	$(PY) -m pytest --durations=20 $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# The stateful chaos test of the paired actions (tests/test_paired_actions_stateful.py) with 2,000 examples instead of
# `make test`'s 200 (on PostgreSQL too when TEST_DATABASE_URL is set). Takes several minutes.
soak: $(INSTALLED_DEV)
	SOAK_EXAMPLES=2000 $(PY) -m pytest tests/test_paired_actions_stateful.py -k keep_the_invariants

clean-venv:
	rm -rf $(VENV)

health: $(INSTALLED)
	$(PY) -m services health

# The benchmarks in small (tests/bench_smoke/, which `make test` does not collect): bench/run.py at 10k events with one
# repetition, the /healthz probe benchmark, and the browser benchmark at 1,000 events (skipped without Chromium); on
# PostgreSQL too when TEST_DATABASE_URL is set. Figures are not judged, only that every one was measured and reported:
# a broken harness fails here in minutes instead of after a long run. `make bench` and `make bench-browser` run it first.
.PHONY: bench-smoke
bench-smoke: $(INSTALLED_DEV)
	$(PY) -m pytest tests/bench_smoke

# The scale benchmark (bench/run.py): 10k / 100k / 1M events, writes docs/benchmarks.md. Building the databases takes a
# few minutes the first time (kept in data/). BENCH_POSTGRES=postgresql+psycopg://... adds PostgreSQL.
bench: $(INSTALLED_DEV) bench-smoke
	$(PY) -m bench.run $(if $(BENCH_POSTGRES),--postgres $(BENCH_POSTGRES),)

# The browser benchmark (bench/browser_pages.py): the Calendar and the Day view in Chromium at 1,000,000 events, cold and
# warm, against a one-line Streamlit page served the same way (the floor); writes docs/benchmarks-browser.md. Reuses
# `make bench`'s 1M database in data/ (built the first time: a few minutes).
bench-browser: $(INSTALLED_DEV) bench-smoke
	$(PY) -m bench.browser_pages

# pip-audit over the runtime set (pyproject.toml's [project] dependencies and what they install). tools/audit.py exits 0
# clean, 1 vulnerable, 3 when the advisory source could not be reached (the audit did NOT run), 2 when it could not
# start. make exits 2 for any failure; the line printed says which (CI runs `.venv/bin/python -m tools.audit` to read
# the status).
audit: $(INSTALLED_DEV)
	$(PY) -m tools.audit

# Screenshots of the main pages at 1440x1000 and 390x844 into docs/screenshots/ (tools/screenshots.py; the README shows
# them; `python -m tools.screenshots --out DIR` takes every page). Runs the app as the browser tests do, in Debian's Chromium.
screenshots: $(INSTALLED_DEV)
	$(PY) -m tools.screenshots --pages overview,calendar,day,unscheduled,data_quality
