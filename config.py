"""Settings classes; ``STOCKAPP_CONFIG`` picks one (development by default)."""

import os


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")
    # Without DATABASE_URL, a SQLite file in the instance folder.
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", "sqlite:///stockapp.sqlite"
    )
    # Larger bodies are refused with 413 from their declared length.
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 1024 * 1024))
    # FULL survives power loss; NORMAL (WAL) may lose the last commits on a crash
    # of the machine, never corrupting the file.
    SQLITE_SYNCHRONOUS = os.environ.get("SQLITE_SYNCHRONOUS", "FULL")
    # How long a writer waits for another worker's write lock before giving up.
    SQLITE_BUSY_TIMEOUT_MS = int(os.environ.get("SQLITE_BUSY_TIMEOUT_MS", 30_000))
    # Each process's connection pool on a database server (PostgreSQL); SQLite
    # ignores them. A sync gunicorn worker holds one connection at a time, so
    # workers x hosts x (size + overflow) bounds the server's connections.
    DATABASE_POOL_SIZE = int(os.environ.get("DATABASE_POOL_SIZE", 2))
    DATABASE_MAX_OVERFLOW = int(os.environ.get("DATABASE_MAX_OVERFLOW", 3))
    # Seconds a request waits for a free connection of its pool before failing.
    DATABASE_POOL_TIMEOUT = int(os.environ.get("DATABASE_POOL_TIMEOUT", 10))
    # Test each pooled connection before use, so one the server closed (restart,
    # failover, idle timeout) is replaced instead of failing a request.
    DATABASE_POOL_PRE_PING = os.environ.get("DATABASE_POOL_PRE_PING", "1") != "0"


class DevelopmentConfig(Config):
    pass


class TestingConfig(Config):
    TESTING = True
    # Each test has a throwaway database; durability is measured, not unit-tested.
    SQLITE_SYNCHRONOUS = "OFF"


class ProductionConfig(Config):
    SECRET_KEY = os.environ.get("SECRET_KEY")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
