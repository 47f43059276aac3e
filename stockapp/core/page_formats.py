"""How the pages (and the messages people read) write numbers: one place,
registered as Jinja filters."""

from __future__ import annotations

from flask import Flask


def thousands(number: int) -> str:
    """``5000`` as "5,000": a count or a quantity as a clerk reads it."""
    return f"{number:,}"


def counted(number: int, noun: str) -> str:
    """ "1 member", "2 members": a count and its noun, agreeing."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def init_page_formats(app: Flask) -> None:
    app.add_template_filter(thousands)
