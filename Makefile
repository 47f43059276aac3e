# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-postgres bench bench-postgres bench-pages bench-webhooks \
  bench-webhooks-postgres bench-batch bench-batch-postgres bench-series \
  bench-series-postgres bench-token format clean api-diff \
  system-packages bench-packages bench-postgres-packages

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "stockapp needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)

# Stamp files: reinstall only when a requirements file changes.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

## run: migrate the database, serve the app with gunicorn on 127.0.0.1:8000, and
## deliver webhooks beside it (the worker stops with gunicorn)
run: $(VENV)/.runtime
	$(BIN)/flask db upgrade
	$(BIN)/flask webhooks deliver & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	$(BIN)/gunicorn wsgi:app

# Programs the tests start beside Python: redis-server (rate limits shared across
# gunicorn workers) and chromium (the pages in a real browser). Installed from
# Debian's packages where we may (root with apt-get); otherwise named, and the
# tests that need them are skipped saying so.
SYSTEM_PACKAGES := redis-server chromium
system-packages:
	@missing=""; for program in $(SYSTEM_PACKAGES); do \
	  command -v $$program >/dev/null || missing="$$missing $$program"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing:$$missing (apt-get install$$missing): their tests will be skipped"; \
	  fi; fi

# The suite runs in one pytest worker per core (pytest-xdist), at most four:
# each test has its own database, ports and redis-server, and each worker its
# own Chromium, so no worker shares state with another.
# worksteal: an idle worker takes tests queued for a busy one (a few take minutes).
PARALLEL := --numprocesses=auto --maxprocesses=4 --dist=worksteal

## test: run the whole test suite and the linter
test: $(VENV)/.dev system-packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PARALLEL)

## test-postgres: run the test suite against a throwaway PostgreSQL cluster of its own
test-postgres: $(VENV)/.dev system-packages
	$(BIN)/python tests/postgres_cluster.py $(PARALLEL)

# What the benchmark runs beside Python: wrk and redis-server (the token
# workload's rate-limit counters), and for bench-postgres PostgreSQL's server
# binaries. Installed from Debian's packages where we may (root with apt-get);
# otherwise the target stops and names the package.
bench-packages:
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; \
	  else \
	    echo "wrk is missing: install Debian's package (sudo apt-get install wrk)" >&2; exit 1; \
	  fi; }
	@command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; \
	  else \
	    echo "redis-server is missing: install Debian's package (sudo apt-get install redis-server)" >&2; exit 1; \
	  fi; }

bench-postgres-packages: bench-packages
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	  else \
	    echo "PostgreSQL's server binaries are missing: install Debian's package (sudo apt-get install postgresql)" >&2; exit 1; \
	  fi; }

## bench: stockapp against the floor and a dict app under wrk, on SQLite (not part of test)
bench: $(VENV)/.dev bench-packages
	$(BIN)/python tests/benchmarks/run_bench.py --backend sqlite

## bench-postgres: the same on a durable throwaway PostgreSQL cluster of its own
bench-postgres: $(VENV)/.dev bench-postgres-packages
	$(BIN)/python tests/benchmarks/run_bench.py --backend postgresql

## bench-token: what a bearer token adds to a member read, on one server (SQLite)
bench-token: $(VENV)/.dev bench-packages
	$(BIN)/python tests/benchmarks/token_bench.py --backend sqlite

## bench-webhooks: what three webhook subscriptions add to a write, and the worker's
## deliveries per second, on SQLite (not part of test)
bench-webhooks: $(VENV)/.dev bench-packages
	$(BIN)/python tests/benchmarks/webhooks_bench.py --backend sqlite

## bench-webhooks-postgres: the same on a durable throwaway PostgreSQL cluster of its own
bench-webhooks-postgres: $(VENV)/.dev bench-postgres-packages
	$(BIN)/python tests/benchmarks/webhooks_bench.py --backend postgresql

## bench-pages: the web interface's reads with 100,000 members, in ms (SQLite)
bench-pages: $(VENV)/.dev
	$(BIN)/python tests/benchmarks/pages_bench.py --backend sqlite

## bench-batch: 100 adjustments as 100 requests against one POST /batch, in ms (SQLite)
bench-batch: $(VENV)/.dev
	$(BIN)/python tests/benchmarks/batch_bench.py --backend sqlite

## bench-batch-postgres: the same on a durable throwaway PostgreSQL cluster of its own
bench-batch-postgres: $(VENV)/.dev bench-postgres-packages
	$(BIN)/python tests/benchmarks/batch_bench.py --backend postgresql

## bench-series: GET .../series over a member with 1,000,000 movements, in ms (SQLite)
bench-series: $(VENV)/.dev
	$(BIN)/python tests/benchmarks/series_bench.py --backend sqlite

## bench-series-postgres: the same on a durable throwaway PostgreSQL cluster of its own
bench-series-postgres: $(VENV)/.dev bench-postgres-packages
	$(BIN)/python tests/benchmarks/series_bench.py --backend postgresql

## format: rewrite the code in the house style
format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis .artifacts

## api-diff: what the OpenAPI document gained or lost since REV (default HEAD)
api-diff: $(VENV)/.dev
	$(BIN)/python tests/contract/api_document_diff.py $(or $(REV),HEAD)
