"""gunicorn settings for ``gunicorn wsgi:app``; command-line flags override them."""

import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

from config import CONFIGS, Config

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Several processes share the database safely (see stockapp/database.py);
# two per core plus one keeps a core busy while another worker waits on I/O.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# Read by config.py, which keeps every database wait shorter (the app refuses to
# start otherwise): change it with GUNICORN_TIMEOUT, not --timeout, which the app
# cannot see.
timeout = Config.GUNICORN_TIMEOUT
graceful_timeout = 20
# With LOG_FORMAT=json the app writes one JSON line per request itself.
_settings = CONFIGS.get(os.environ.get("STOCKAPP_CONFIG", "development"))
accesslog = None if _settings and _settings.LOG_FORMAT == "json" else "-"
errorlog = "-"

# /metrics across workers: prometheus-client's multiprocess mode keeps each
# worker's samples in files here. Set before any worker imports the app; a
# directory of our own when none is given, removed again at exit.
_METRICS = "PROMETHEUS_MULTIPROC_DIR"
_OWN_METRICS_DIRECTORY = _METRICS not in os.environ
if _OWN_METRICS_DIRECTORY:
    os.environ[_METRICS] = tempfile.mkdtemp(prefix="stockapp-metrics-")


def on_starting(server):
    """Start from zero: samples of an earlier run would be added to this one's."""
    directory = Path(os.environ[_METRICS])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """A worker is gone: its live gauges stop counting (its counters stay)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _OWN_METRICS_DIRECTORY:
        shutil.rmtree(os.environ[_METRICS], ignore_errors=True)
