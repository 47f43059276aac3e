"""gunicorn settings shared by every app the benchmark serves (stockapp, floor, dict).

The same settings for all, so the apps differ only in their own code. The
benchmark passes the port in BENCH_BIND and the error log in BENCH_ERROR_LOG.
"""

import os

bind = os.environ["BENCH_BIND"]
# Threads let a worker overlap requests waiting on the database (fsync, locks).
worker_class = "gthread"
workers = 2
threads = 4
# SO_REUSEPORT, as a production configuration would have it.
reuse_port = True
# Seeding the 100,000-member collection is one long request.
timeout = 120
accesslog = None
errorlog = os.environ["BENCH_ERROR_LOG"]
