"""Fixtures of the stock's pages and shortcuts."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import Spy

from stockapp.core.request_toll import request_toll


@pytest.fixture
def refused(client):
    """The page a form refused without script is shown again on: the post
    redirects back to it (303), and the page says why and what was typed,
    once (reloading it shows no refusal and posts nothing)."""

    def shown_again(response):
        assert response.status_code == 303, response.get_data(as_text=True)
        page = client.get(response.headers["Location"])
        assert page.status_code == 200
        again = client.get(response.headers["Location"]).get_data(as_text=True)
        assert 'role="alert"' not in again
        assert 'aria-invalid="true"' not in again
        return page

    return shown_again


@pytest.fixture
def shortcut_pair(make_app):
    """Two apps over one database with the same settings: one whose only
    shortcut is ``kind``'s, watched, and one without any.
    ``shortcut_pair(kind, **config)`` -> (spy, with, without)."""

    def make(kind: type, **config: Any):
        with_shortcut = make_app(**config)
        toll = request_toll(with_shortcut)
        (shortcut,) = [each for each in toll.shortcuts if isinstance(each, kind)]
        spy = Spy(shortcut)
        toll.shortcuts = (spy,)
        without = make_app(**config)
        request_toll(without).shortcuts = ()
        return spy, with_shortcut.test_client(), without.test_client()

    return make
