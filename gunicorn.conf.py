"""gunicorn settings for ``gunicorn wsgi:app``; command-line flags override them."""

import multiprocessing
import os

from config import CONFIGS

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Several processes share the database safely (see stockapp/database.py);
# two per core plus one keeps a core busy while another worker waits on I/O.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
# With LOG_FORMAT=json the app writes one JSON line per request itself.
_settings = CONFIGS.get(os.environ.get("STOCKAPP_CONFIG", "development"))
accesslog = None if _settings and _settings.LOG_FORMAT == "json" else "-"
errorlog = "-"
