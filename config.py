"""Settings classes; ``STOCKAPP_CONFIG`` picks one (development by default)."""

import os
from datetime import timedelta


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")
    # Without DATABASE_URL, a SQLite file in the instance folder.
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", "sqlite:///stockapp.sqlite"
    )
    # Larger bodies are refused with 413 from their declared length.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 1024 * 1024))
    # POST /imports takes files up to this many bytes; larger ones go through
    # `flask stock import`, which has no limit.
    IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", 32 * 1024 * 1024))
    # FULL survives power loss; NORMAL (WAL) may lose the last commits on a crash
    # of the machine, never corrupting the file.
    SQLITE_SYNCHRONOUS = os.environ.get("SQLITE_SYNCHRONOUS", "FULL")
    # Seconds gunicorn lets a worker be silent before killing it (gunicorn.conf.py
    # reads it from here). Every database wait below is shorter, so that a
    # request the database keeps waiting gets a 503 to retry, not a killed worker;
    # the app refuses to start otherwise.
    GUNICORN_TIMEOUT = int(os.environ.get("GUNICORN_TIMEOUT", 30))
    # How long a writer waits for another worker's write lock before giving up.
    SQLITE_BUSY_TIMEOUT_MS = int(os.environ.get("SQLITE_BUSY_TIMEOUT_MS", 10_000))
    # Each process's connection pool on a database server (PostgreSQL); SQLite
    # ignores them. A sync gunicorn worker holds one connection at a time, so
    # workers x hosts x (size + overflow) bounds the server's connections.
    DATABASE_POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", 2))
    DATABASE_MAX_OVERFLOW = int(os.environ.get("DATABASE_MAX_OVERFLOW", 3))
    # Seconds a request waits for a free connection of its pool before failing.
    DATABASE_POOL_TIMEOUT = int(os.environ.get("DATABASE_POOL_TIMEOUT", 10))
    # Seconds to wait for a new connection to a server that does not answer.
    DATABASE_CONNECT_TIMEOUT = int(os.environ.get("DATABASE_CONNECT_TIMEOUT", 5))
    # PostgreSQL's lock_timeout: how long a statement waits for a row another
    # transaction holds; then statement_timeout: how long any statement runs.
    DATABASE_LOCK_TIMEOUT_MS = int(os.environ.get("DATABASE_LOCK_TIMEOUT_MS", 5_000))
    DATABASE_STATEMENT_TIMEOUT_MS = int(
        os.environ.get("DATABASE_STATEMENT_TIMEOUT_MS", 20_000)
    )
    # psycopg prepares a statement run 5 times on a connection; a pooler in
    # transaction mode (PgBouncer) hands the next transaction another server
    # connection, which lacks it: "off" there.
    DATABASE_PREPARED_STATEMENTS = os.environ.get("DATABASE_PREPARED_STATEMENTS", "on")
    # Test each pooled connection before use (a round trip). Off by default: a
    # read, or a write before its COMMIT, that meets a connection the server
    # closed (restart, failover, idle timeout) runs once more on a new one.
    DATABASE_POOL_PRE_PING = os.environ.get("DATABASE_POOL_PRE_PING", "0") != "0"

    # Days the movement log keeps a movement (flask db prune); 0: forever, as the
    # audit trail it is. Prunes delete this many rows per short transaction.
    MOVEMENT_RETENTION_DAYS = int(os.environ.get("MOVEMENT_RETENTION_DAYS", 0))
    PRUNE_BATCH_SIZE = int(os.environ.get("PRUNE_BATCH_SIZE", 1000))

    # Webhooks (docs/webhooks.md). A receiver on a loopback, private, link-local
    # or multicast address, or over plain http, only with this set to 1 (a LAN).
    WEBHOOKS_ALLOW_PRIVATE = os.environ.get("WEBHOOKS_ALLOW_PRIVATE", "0") == "1"
    # Seconds to connect to a receiver, then for the whole exchange after.
    WEBHOOKS_CONNECT_TIMEOUT = float(os.environ.get("WEBHOOKS_CONNECT_TIMEOUT", 5))
    WEBHOOKS_ANSWER_TIMEOUT = float(os.environ.get("WEBHOOKS_ANSWER_TIMEOUT", 10))
    # Seconds a worker holds a subscription without renewing; a worker killed
    # mid-delivery hands its subscriptions on after this long.
    WEBHOOKS_LEASE_SECONDS = float(os.environ.get("WEBHOOKS_LEASE_SECONDS", 60))
    # How often an idle worker looks for due deliveries, in seconds.
    WEBHOOKS_POLL_SECONDS = float(os.environ.get("WEBHOOKS_POLL_SECONDS", 1))
    # Subscriptions one `flask webhooks deliver` serves at once.
    WEBHOOKS_WORKER_THREADS = int(os.environ.get("WEBHOOKS_WORKER_THREADS", 4))
    # Days the attempts and the finished deliveries are kept.
    WEBHOOKS_RETENTION_DAYS = int(os.environ.get("WEBHOOKS_RETENTION_DAYS", 30))

    # What a caller without credentials may do: none, read or write. Secure by
    # default; development keeps the tutorial's open "write".
    ANONYMOUS_ACCESS = os.environ.get("ANONYMOUS_ACCESS", "none")
    # Browser sessions: a signed cookie the page's scripts cannot read, not sent
    # on cross-site requests, kept for a working day.
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "1") != "0"
    PERMANENT_SESSION_LIFETIME = timedelta(
        hours=int(os.environ.get("SESSION_LIFETIME_HOURS", 12))
    )
    # A form's CSRF token lasts as long as its session: a clerk's page left open
    # for hours still submits.
    WTF_CSRF_TIME_LIMIT = None
    # https adds HSTS to every response.
    PREFERRED_URL_SCHEME = os.environ.get("PREFERRED_URL_SCHEME", "http")
    # How many reverse proxies in front set X-Forwarded-For/-Proto/-Host; 0 trusts
    # none (rate limits then count the proxy's address).
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", 0))
    # Rate limits (the "limits" notation). memory:// counts per worker process;
    # redis://host:port shares one count across workers and hosts.
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    # Failed log-ins, per client address and per user name.
    RATELIMIT_LOG_INS = os.environ.get("RATELIMIT_LOG_INS", "10 per 5 minutes")
    # Invalid bearer tokens, per client address.
    RATELIMIT_BAD_TOKENS = os.environ.get("RATELIMIT_BAD_TOKENS", "20 per 5 minutes")
    # Requests per token (e.g. "600 per minute"); empty: no limit.
    RATELIMIT_API = os.environ.get("RATELIMIT_API", "")
    # GET /stock's documents kept per worker process, serialised, until the stock
    # changes: at most this many bytes (a document over a quarter of it streams
    # and is not kept); 0 keeps none.
    STOCK_CACHE_BYTES = int(os.environ.get("STOCK_CACHE_BYTES", 32 * 1024 * 1024))
    # text: gunicorn's access log and Flask's plain lines; json: one JSON line per
    # request on stdout instead (see stockapp/request_log.py).
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
    # Who may read /metrics: "token" (a token with the metrics or admin scope) or
    # "public" (anyone who can reach it: a scraper on a private network).
    METRICS_ACCESS = os.environ.get("METRICS_ACCESS", "token")


class DevelopmentConfig(Config):
    # The tutorial's zero-setup behaviour, on loopback only; a warning says so.
    ANONYMOUS_ACCESS = os.environ.get("ANONYMOUS_ACCESS", "write")
    # make run serves plain http on 127.0.0.1.
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") != "0"


class TestingConfig(Config):
    TESTING = True
    # The contract's tests call the API the tutorial's way; the access tests
    # set ANONYMOUS_ACCESS themselves.
    ANONYMOUS_ACCESS = "write"
    SESSION_COOKIE_SECURE = False
    # Each test has a throwaway database; durability is measured, not unit-tested.
    SQLITE_SYNCHRONOUS = "OFF"


class ProductionConfig(Config):
    SECRET_KEY = os.environ.get("SECRET_KEY")
    LOG_FORMAT = os.environ.get("LOG_FORMAT", "json")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
