"""PostgreSQL stopped and started again under a running app: meanwhile every
request is answered 503 ``Database unavailable``, and afterwards the app serves
again without a restart."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import flask_migrate
import pytest
from postgres_cluster import (
    MEMORY_DIR,
    TEST_SETTINGS,
    Cluster,
    cluster_owner,
    find_bindir,
    running_cluster,
)
from sqlalchemy import make_url

from stockapp import create_app
from stockapp.core.extensions import db

pytestmark = pytest.mark.postgresql_only

UNAVAILABLE = {
    "type": "about:blank",
    "title": "Service Unavailable",
    "status": 503,
    "detail": "The database does not answer; nothing was stored. Try again.",
    "error": "Database unavailable",
}


def pg_ctl(cluster: Cluster, *args: str) -> None:
    """Run pg_ctl on ``cluster``'s data directory, as the user that owns it."""
    owner = cluster_owner()
    as_owner: dict[str, Any] = {}
    if owner:
        as_owner = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
    subprocess.run(
        [str(find_bindir() / "pg_ctl"), f"--pgdata={cluster.workdir / 'data'}", *args],
        check=True,
        capture_output=True,
        timeout=60,
        **as_owner,
    )


def start_again(cluster: Cluster) -> None:
    """Start the stopped cluster on its port, with its settings, and wait for it."""
    settings = {
        **TEST_SETTINGS,
        "port": make_url(cluster.url).port,
        "unix_socket_directories": cluster.workdir / "sockets",
    }
    options = " ".join(f"--{name}={value}" for name, value in settings.items())
    log = cluster.workdir / "restarted.log"
    pg_ctl(cluster, "start", "--wait", f"--log={log}", f"--options={options}")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A throwaway cluster of this test's own, which it may stop and start."""
    in_memory = MEMORY_DIR.is_dir() and os.access(MEMORY_DIR, os.W_OK)
    with running_cluster(TEST_SETTINGS, MEMORY_DIR if in_memory else None) as cluster:
        try:
            yield cluster
        finally:
            # A server pg_ctl started is not running_cluster's to stop.
            if (cluster.workdir / "data" / "postmaster.pid").exists():
                pg_ctl(cluster, "stop", "--mode=immediate")


def timed(client, method: str, path: str, body: Any = None):
    """The response and the seconds it took."""
    started = time.monotonic()
    response = client.open(path, method=method, json=body)
    return response, time.monotonic() - started


def test_every_route_answers_503_while_postgresql_is_down_and_recovers(cluster):
    app = create_app({"SQLALCHEMY_DATABASE_URI": cluster.url})
    with app.app_context():
        flask_migrate.upgrade()
    client = app.test_client()
    try:
        assert client.post("/stock/fruit", json={"apple": 3}).status_code == 201
        # The pool now holds connections the stop will end.
        assert client.get("/stock").get_json() == {"fruit": {"apple": 3}}

        pg_ctl(cluster, "stop", "--mode=fast")
        # A streamed read, a read on the driver's own cursor (its failed connect
        # comes unwrapped by SQLAlchemy), and a write.
        for method, path, body in [
            ("GET", "/stock", None),
            ("GET", "/stock/fruit/apple", None),
            ("PUT", "/stock/fruit/apple", 7),
        ]:
            response, took = timed(client, method, path, body)
            assert response.status_code == 503
            assert response.content_type == "application/problem+json"
            assert response.headers["Retry-After"] == "5"
            assert response.get_json() == {
                **UNAVAILABLE,
                "request_id": response.headers["X-Request-ID"],
            }
            # Refused at once: nothing waits for a server that is not there.
            assert took < 2
        readiness = client.get("/readyz")
        assert readiness.status_code == 503
        assert readiness.get_json()["error"] == "Database unavailable"

        start_again(cluster)
        response, took = timed(client, "GET", "/stock")
        assert response.status_code == 200
        assert response.get_json() == {"fruit": {"apple": 3}}
        assert client.put("/stock/fruit/apple", json=7).status_code == 200
        assert client.get("/stock").get_json() == {"fruit": {"apple": 7}}
        assert client.get("/readyz").status_code == 200
    finally:
        with app.app_context():
            db.engine.dispose()
