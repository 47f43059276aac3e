"""A refused form kept across a redirect, for a browser without script.

A refusal redirects back to the page, as a success does (post/redirect/get):
the page then shows the form again with why and what was typed, once, and
reloading it posts nothing. What is kept travels in the session (a signed
cookie), so only a form's short fields are kept, each cut to a length: never a
password or a file (those forms answer their refusal in place).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import session

_KEY = "stockapp_refused_form"
# The fields the collection and member pages' forms post, shown again.
KEPT_FIELDS = (
    "member",
    "qty",
    "amount",
    "reason",
    "level",
    "code",
    "direction",
    "version",
    "row",
    "from",
)
# Each is kept this long at most: enough to show a value refused for being too
# long, short enough for a cookie.
KEPT_LENGTH = 256


def keep(page: list[str], failed: dict[str, Any], form: Mapping[str, str]) -> None:
    """Keep why ``form`` was refused for the next showing of ``page`` (the
    names that identify it: ["collection", c] or ["member", c, m])."""
    session[_KEY] = {
        "page": page,
        "failed": failed,
        "form": {
            field: form[field][:KEPT_LENGTH] for field in KEPT_FIELDS if field in form
        },
    }


def take(page: list[str]) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The refusal kept for ``page`` (why, and what was typed), once; None if
    there is none. A refusal kept for another page is dropped."""
    kept = session.pop(_KEY, None)
    if kept is None or kept.get("page") != page:
        return None
    return kept["failed"], kept["form"]
