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
