"""Running wrk for one workload against one server, and reading its result."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass

import cores
from paths import LUA_SCRIPT
from workloads import Workload

CONNECTIONS = 8
# Long enough that a slow durable write is measured, not counted as an error.
REQUEST_TIMEOUT = "10s"
RESULT_PREFIX = "BENCH_RESULT "
# wrk stops with requests in flight; the server finishes them meanwhile, so they
# neither overlap the next run nor undo its first writes.
SETTLE_SECONDS = 0.5


class BadResponses(Exception):
    """A run got answers other than 2xx, or lost connections: its numbers mean
    nothing."""


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is missing: apt-get install wrk (or run make bench).")
    return wrk


def run_wrk(
    url: str, workload: Workload, seconds: float, authorization: str | None = None
) -> LoadResult:
    """Load ``url`` with the workload's steps for ``seconds`` (each request with
    an ``Authorization`` header when given); raise BadResponses unless every
    answer was 2xx."""
    command = [
        require_wrk(),
        # A thread per connection: each connection's steps stay in order.
        f"--threads={CONNECTIONS}",
        f"--connections={CONNECTIONS}",
        f"--duration={max(1, round(seconds))}s",
        f"--timeout={REQUEST_TIMEOUT}",
        f"--script={LUA_SCRIPT}",
        url,
        "--",
        *workload.steps,
    ]
    env = dict(os.environ)
    env.pop("BENCH_AUTHORIZATION", None)
    if authorization is not None:
        env["BENCH_AUTHORIZATION"] = authorization
    output = subprocess.run(
        cores.for_load(command), capture_output=True, text=True, check=True, env=env
    ).stdout
    time.sleep(SETTLE_SECONDS)
    lines = [line for line in output.splitlines() if line.startswith(RESULT_PREFIX)]
    if not lines:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    result = json.loads(lines[-1].removeprefix(RESULT_PREFIX))
    if result["non_2xx"] or result["socket_errors"] or not result["requests"]:
        raise BadResponses(
            f"{workload.name} at {url}: {result['requests']} requests,"
            f" {result['non_2xx']} not 2xx ({result['examples']}),"
            f" {result['socket_errors']} socket errors or timeouts"
        )
    return LoadResult(
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        p50_ms=result["p50_us"] / 1e3,
        p99_ms=result["p99_us"] / 1e3,
    )
