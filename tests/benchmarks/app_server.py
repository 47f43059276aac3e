"""One app served by gunicorn with the bench settings, on a free loopback port.

The server is a process group of its own (a session, so Ctrl-C reaches only the
benchmark, which stops it): stopping it ends the master and every worker.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cores
from gunicorn_server import free_port
from paths import BENCHMARKS, GUNICORN_CONFIG, REPOSITORY

START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 15
REQUEST_TIMEOUT_S = 300


class AppServer:
    def __init__(self, name: str, module: str, env: dict[str, str], log: Path) -> None:
        self.name = name
        self.module = module
        self.env = env
        self.log = log
        self.port = 0
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        """Start gunicorn and wait until it answers HTTP."""
        self.port = free_port()
        env = {
            **self.env,
            "BENCH_BIND": f"127.0.0.1:{self.port}",
            "BENCH_ERROR_LOG": str(self.log),
            # stockapp's wsgi from the repository root, the others from here.
            "PYTHONPATH": os.pathsep.join([str(REPOSITORY), str(BENCHMARKS)]),
        }
        command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG)]
        self.process = subprocess.Popen(
            cores.for_server([*command, f"{self.module}:app"]),
            cwd=REPOSITORY,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.log}")
            try:
                self.request("GET", "/")  # any answer, even 404, means serving
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.name} did not start: see {self.log}"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        """End the master and its workers; SIGKILL if they linger."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
        # Whatever is left of the group (a worker slow to exit) goes too.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def request(self, method: str, path: str, body: Any = None) -> int:
        """Send one request (a JSON body if given); its status."""
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S
        )
        try:
            headers, data = {}, None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()
