"""Where the benchmark's pieces live."""

from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
TESTS = BENCHMARKS.parent
REPOSITORY = TESTS.parent
GUNICORN_CONFIG = BENCHMARKS / "gunicorn_bench.conf.py"
LUA_SCRIPT = BENCHMARKS / "workload.lua"
RESULTS = REPOSITORY / ".bench"
