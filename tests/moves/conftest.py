"""What the tests of the moves pages share."""

from __future__ import annotations

import pytest
from helpers import login


@pytest.fixture
def closed(make_app, make_user):
    """Browsers on an app closed to anonymous callers: ``closed("clerk")``
    logged in as a user of that role, ``closed(None)`` anonymous."""
    app = make_app(ANONYMOUS_ACCESS="none")
    for role in ("viewer", "clerk", "admin"):
        make_user(role, role)

    def browser(role: str | None):
        made = app.test_client()
        if role is not None:
            assert login(made, role).status_code == 303
        return made

    return browser
