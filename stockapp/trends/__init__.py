"""Stock over time: series computed from the movement log, and their charts."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Serve the series and the charts."""
