"""The movement log's kinds in a clerk's words, for the pages (the API and the
exports keep the kinds themselves)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

_WORDS = {
    "create": "created",
    "replace": "set",
    "update": "set",
    "delete": "deleted",
    "import": "imported",
    "stocktake": "counted",
    "level": "reorder level",
    "code": "code",
}
# Kinds whose words follow the direction: (up, down).
_BY_DIRECTION = {
    "adjust": ("added", "taken"),
    "transfer": ("moved in", "moved out"),
}
# Every kind has its words (tests/history/test_history_pages.py checks it).
WORDED_KINDS = frozenset(_WORDS) | frozenset(_BY_DIRECTION)


def kind_in_words(movement: Mapping[str, Any]) -> str:
    """ "taken" for an adjustment down, "set" for a replace, and so on."""
    kind = movement["kind"]
    if kind in ("replace", "update") and movement["before"] is None:
        return "created"  # a PUT or PATCH that named a new member
    if kind in _BY_DIRECTION:
        up, down = _BY_DIRECTION[kind]
        before, after = movement["before"] or 0, movement["after"] or 0
        return down if after < before else up
    return _WORDS[kind]


def init_words(app: Flask) -> None:
    app.add_template_filter(kind_in_words)
