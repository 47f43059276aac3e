"""Faults an operator meets: a full disk, and a reload under load."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from gunicorn_server import Server

from stockapp import create_app
from stockapp.core.extensions import db

# --- A full disk ------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs the test mounts itself (skipped, saying why, where the
    machine does not allow it), unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the filesystem has no space left; its path."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(descriptor, b"\0" * 4096):
            pass
    except OSError as error:
        assert error.errno == errno.ENOSPC
    finally:
        os.close(descriptor)
    return filler


@pytest.mark.sqlite_only
def test_a_full_disk_is_a_507_reads_go_on_and_writes_come_back(databases, small_disk):
    database = small_disk / "stock.sqlite"
    shutil.copyfile(databases.template, database)
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    client = app.test_client()
    try:
        assert client.post("/stock/fruit", json={"apple": 30}).status_code == 201
        filler = fill(small_disk)
        big = {f"member-{number:05}": number for number in range(3000)}
        refused = client.post("/stock/bulk", json=big)
        assert refused.status_code == 507
        assert refused.content_type == "application/problem+json"
        body = refused.get_json()
        assert (body["error"], body["status"]) == ("Storage full", 507)
        assert body["detail"] == (
            "The server's storage is full; nothing was stored. Reads still work;"
            " try the write again once space is freed."
        )
        # Nothing of it was stored, and reads keep working.
        assert client.get("/stock").get_json() == {"fruit": {"apple": 30}}
        assert client.get("/stock/fruit/apple").get_json() == 30
        # Space comes back: the same app writes again, no restart.
        filler.unlink()
        assert client.post("/stock/bulk", json=big).status_code == 201
        assert len(client.get("/stock/bulk").get_json()) == 3000
    finally:
        with app.app_context():
            db.engine.dispose()


# --- A reload under load ------------------------------------------------------------


@pytest.mark.slow
def test_a_reload_under_load_loses_no_request(database_url, tmp_path):
    """``kill -HUP`` of gunicorn's master (a deploy's reload) while readers and
    writers keep going: every request is answered, every write is stored."""
    log = tmp_path / "gunicorn.log"
    server = Server(database_url, log, workers=3)
    server.start()
    answers: list[tuple[str, int]] = []
    failures: list[str] = []
    written: list[int] = []
    stop = threading.Event()
    lock = threading.Lock()

    def work(worker: int) -> None:
        number = 0
        while not stop.is_set():
            try:
                if worker % 2:
                    reply = server.request("GET", "/stock")
                else:
                    reply = server.request("PUT", f"/stock/w{worker}", {"n": number})
            except OSError as error:  # a refused or dropped connection
                with lock:
                    failures.append(repr(error))
                continue
            with lock:
                answers.append((f"w{worker}", reply.status))
                if worker % 2 == 0 and reply.status in (200, 201):
                    written.append(worker * 10**6 + number)
            number += 1

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1)
        with lock:
            before_reload = len(answers)
        server.process.send_signal(signal.SIGHUP)
        # Until the new workers have taken over, and a while after.
        deadline = time.monotonic() + 20
        while "Hang up: Master" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        with lock:
            at_reload = len(answers)
        time.sleep(2)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        final = {
            f"w{worker}": server.request("GET", f"/stock/w{worker}").json()
            for worker in (0, 2)
        }
        server.stop()
    text = log.read_text()
    assert "Hang up: Master" in text
    assert text.count("Booting worker") >= 6  # the first three and the new ones
    assert failures == []
    assert {status for _, status in answers} <= {200, 201}
    # The load was there before the reload, and every reader and writer was
    # answered after it.
    assert before_reload > 0
    assert {who for who, _ in answers[at_reload:]} == {"w0", "w1", "w2", "w3"}
    # The last acknowledged write of each writer is what is stored.
    for worker in (0, 2):
        last = max(n for n in written if n // 10**6 == worker) % 10**6
        assert final[f"w{worker}"] == {"n": last}


class _DiskFull(Exception):
    """What psycopg raises when PostgreSQL's disk is full (SQLSTATE 53100)."""

    sqlstate = "53100"


@pytest.mark.parametrize(
    "orig",
    [
        _DiskFull('could not extend file "base/16384/2619": No space left on device'),
        Exception("database or disk is full"),
    ],
)
def test_each_databases_full_disk_is_a_507(client, stored, monkeypatch, orig):
    from sqlalchemy.exc import OperationalError

    def full(*args, **kwargs):
        raise OperationalError("INSERT ...", {}, orig)

    monkeypatch.setattr("stockapp.stock.units.apply_changes", full)
    response = client.post("/stock/fruit", json={"apple": 1})
    assert response.status_code == 507
    assert response.get_json()["error"] == "Storage full"
    assert stored() == {}
