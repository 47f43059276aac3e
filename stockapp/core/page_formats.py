"""How the pages write numbers: one place, registered as Jinja filters."""

from __future__ import annotations

from flask import Flask


def thousands(number: int) -> str:
    """``5000`` as "5,000": a count or a quantity as a clerk reads it."""
    return f"{number:,}"


def init_page_formats(app: Flask) -> None:
    app.add_template_filter(thousands)
