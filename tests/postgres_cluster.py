"""Run the test suite against a throwaway PostgreSQL cluster of its own.

``python tests/postgres_cluster.py [pytest arguments]`` creates a cluster in a
temporary directory, starts it on a free loopback port (its unix socket in that
directory too), runs pytest with ``STOCKAPP_TEST_DATABASE_URL`` pointing at it, then
stops the server and removes the directory, also on failure, Ctrl-C or SIGTERM.
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
from pathlib import Path
from typing import Any

# The superuser initdb creates; trusted, since only loopback and the socket in a
# private directory can reach this cluster.
USER = "stockapp"
# Throwaway data: durability only costs time here.
SERVER_SETTINGS = {
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


def main(pytest_args: list[str]) -> int:
    bindir = find_bindir()
    owner = cluster_owner()
    as_owner: dict[str, Any] = {}
    if owner:
        as_owner = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
    signal.signal(signal.SIGTERM, raise_on_sigterm)
    in_memory = MEMORY_DIR.is_dir() and os.access(MEMORY_DIR, os.W_OK)
    workdir = Path(
        tempfile.mkdtemp(
            prefix="stockapp-postgres-", dir=MEMORY_DIR if in_memory else None
        )
    )
    data, sockets, log = workdir / "data", workdir / "sockets", workdir / "server.log"
    server = None
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
        settings = {**SERVER_SETTINGS, "port": port, "unix_socket_directories": sockets}
        with log.open("w") as log_file:
            # A session of its own: Ctrl-C reaches pytest and us, and we stop it.
            server = subprocess.Popen(
                [str(bindir / "postgres"), "-D", str(data)]
                + [f"--{name}={value}" for name, value in settings.items()],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                start_new_session=True,
                **as_owner,
            )
        wait_until_ready(server, bindir, sockets, port)
        url = f"postgresql+psycopg://{USER}@127.0.0.1:{port}/postgres"
        print(f"PostgreSQL cluster in {workdir}: {url}", flush=True)
        env = {**os.environ, "STOCKAPP_TEST_DATABASE_URL": url}
        return subprocess.run(
            [sys.executable, "-m", "pytest", *pytest_args], env=env
        ).returncode
    except (subprocess.CalledProcessError, RuntimeError) as error:
        if log.exists():
            sys.stderr.write(log.read_text())
        print(f"Could not start PostgreSQL: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted; stopping PostgreSQL.", file=sys.stderr)
        return 130
    finally:
        # A second Ctrl-C or SIGTERM does not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if server is not None:
            stop(server)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
