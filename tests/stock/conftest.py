"""Fixtures of the stock's pages."""

from __future__ import annotations

import pytest


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
