"""The webhooks' fixtures: an app that may send to loopback, an admin's token,
and a real receiver that checks every signature with the standardwebhooks
package, as a receiver built on it would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from helpers import bearer
from webhook_receiver import Receiver, running_receiver

from stockapp import create_app
from stockapp.core.extensions import db


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    """The test app, allowed to send to the loopback receiver below."""
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": database_url, "WEBHOOKS_ALLOW_PRIVATE": True}
    )
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def admin(make_user, make_token) -> dict[str, str]:
    """The headers of an admin's admin-scope token."""
    make_user("root", "admin")
    return bearer(make_token("root", "admin"))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as receiver:
        yield receiver


@pytest.fixture
def subscribe(client, admin, receiver):
    """Subscribe the receiver (``subscribe(events=[...], ...)``); the new
    subscription, whose secret the receiver then verifies with."""

    def make(**fields: Any) -> dict[str, Any]:
        body = {"url": receiver.url, "events": ["movement.created"], **fields}
        response = client.post("/webhooks", json=body, headers=admin)
        assert response.status_code == 201, response.get_json()
        made = response.get_json()
        receiver.secrets.append(made["secret"])
        return made

    return make


@pytest.fixture
def deliver(app):
    """Run a worker until nothing is due: ``deliver(worker=Worker(...))``."""
    from stockapp.webhooks.worker import Worker

    def run(worker: Worker | None = None) -> int:
        with app.app_context():
            return (worker or Worker()).drain()

    return run
