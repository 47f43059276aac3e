"""Settings that take one of a few values, checked when the app is made."""

from __future__ import annotations

from flask import Flask


def one_of(app: Flask, name: str, allowed: tuple[str, ...]) -> str:
    """The setting ``name``; refuse to start (RuntimeError) unless it is one of
    ``allowed``."""
    value = app.config[name]
    if value not in allowed:
        raise RuntimeError(f"{name} must be one of {', '.join(allowed)}")
    return value
