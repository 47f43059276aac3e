"""The app runs only synchronous views and hooks, and says so at start."""

from __future__ import annotations

import pytest

from stockapp import _refuse_async


def test_an_async_view_is_refused_at_start(app):
    async def asynchronous_view() -> str:
        return "never run"

    app.add_url_rule("/asynchronous", "asynchronous", asynchronous_view)
    with pytest.raises(RuntimeError, match="asynchronous_view is async"):
        _refuse_async(app)


def test_an_async_hook_is_refused_at_start(app):
    async def asynchronous_hook() -> None:
        return None

    app.before_request(asynchronous_hook)
    with pytest.raises(RuntimeError, match="asynchronous_hook is async"):
        _refuse_async(app)
