"""Run the test suite against a throwaway PostgreSQL cluster of its own.

``python tests/postgres_cluster.py [pytest arguments]`` creates a cluster in a
temporary directory, starts it on a free loopback port (its unix socket in that
directory too), runs pytest with ``STOCKAPP_TEST_DATABASE_URL`` pointing at it, then
stops the server and removes the directory, also on failure, Ctrl-C or SIGTERM.
``running_cluster`` does the same around any block (the benchmark uses it with
durable settings).
It installs nothing: it needs PostgreSQL's server binaries (Debian's
``postgresql`` package). initdb refuses to run as root, so as root the cluster
runs as the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The superuser initdb creates; trusted, since only loopback and the socket in a
# private directory can reach this cluster.
USER = "stockapp"
# Throwaway data: durability only costs time here.
TEST_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
# The suite creates a database per test, mostly file copies: in memory they take
# a fifth of the time they take on disk.
MEMORY_DIR = Path("/dev/shm")
START_TIMEOUT = 30


def find_bindir() -> Path:
    """The newest PostgreSQL server binaries: Debian's layout, else the PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda path: int(Path(path).parent.parent.name),
    )
    initdb = candidates[-1] if candidates else shutil.which("initdb")
    if not initdb:
        sys.exit("PostgreSQL server binaries not found (apt-get install postgresql).")
    return Path(initdb).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cluster_owner() -> pwd.struct_passwd | None:
    """The user to run the server as when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        sys.exit("Running as root needs the 'postgres' system user to own the cluster.")


def raise_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def wait_until_ready(
    server: subprocess.Popen, bindir: Path, sockets: Path, port: int
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    ready = [
        str(bindir / "pg_isready"),
        "--quiet",
        f"--host={sockets}",
        f"--port={port}",
    ]
    while subprocess.run(ready).returncode != 0:
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL did not start")
        time.sleep(0.1)


def stop(server: subprocess.Popen) -> None:
    """Fast shutdown (SIGINT): sessions are ended, nothing waits for clients."""
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        # The server is its own process group: this also ends its children.
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@dataclass(frozen=True)
class Cluster:
    """A running cluster: its URL for SQLAlchemy and its postmaster's pid."""

    url: str
    pid: int
    workdir: Path


@contextmanager
def running_cluster(
    settings: dict[str, str], parent: Path | None = None
) -> Iterator[Cluster]:
    """A fresh cluster with these server settings, in a temporary directory under
    ``parent`` (default: the system's), stopped and removed on the way out."""
    bindir = find_bindir()
    owner = cluster_owner()
    as_owner: dict[str, Any] = {}
    if owner:
        as_owner = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
    workdir = Path(tempfile.mkdtemp(prefix="stockapp-postgres-", dir=parent))
    data, sockets, log = workdir / "data", workdir / "sockets", workdir / "server.log"
    server = None
    try:
        try:
            sockets.mkdir()
            if owner:
                for path in (workdir, sockets):
                    os.chown(path, owner.pw_uid, owner.pw_gid)
            subprocess.run(
                [
                    str(bindir / "initdb"),
                    f"--pgdata={data}",
                    f"--username={USER}",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                cwd=workdir,
                **as_owner,
            )
            port = free_port()
            options = {**settings, "port": port, "unix_socket_directories": sockets}
            with log.open("w") as log_file:
                # A session of its own: Ctrl-C reaches the caller, which stops it.
                server = subprocess.Popen(
                    [str(bindir / "postgres"), "-D", str(data)]
                    + [f"--{name}={value}" for name, value in options.items()],
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    cwd=workdir,
                    start_new_session=True,
                    **as_owner,
                )
            wait_until_ready(server, bindir, sockets, port)
        except (subprocess.CalledProcessError, RuntimeError):
            if log.exists():
                sys.stderr.write(log.read_text())
            raise
        url = f"postgresql+psycopg://{USER}@127.0.0.1:{port}/postgres"
        yield Cluster(url, server.pid, workdir)
    finally:
        # A second Ctrl-C or SIGTERM does not cut the clean-up short.
        previous = {
            signum: signal.signal(signum, signal.SIG_IGN)
            for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            if server is not None:
                stop(server)
            shutil.rmtree(workdir, ignore_errors=True)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def main(pytest_args: list[str]) -> int:
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    in_memory = MEMORY_DIR.is_dir() and os.access(MEMORY_DIR, os.W_OK)
    try:
        with running_cluster(
            TEST_SETTINGS, MEMORY_DIR if in_memory else None
        ) as cluster:
            print(f"PostgreSQL cluster in {cluster.workdir}: {cluster.url}", flush=True)
            env = {**os.environ, "STOCKAPP_TEST_DATABASE_URL": cluster.url}
            return subprocess.run(
                [sys.executable, "-m", "pytest", *pytest_args], env=env
            ).returncode
    except (subprocess.CalledProcessError, RuntimeError) as error:
        print(f"Could not start PostgreSQL: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted; PostgreSQL stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
