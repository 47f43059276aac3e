"""Which cores the load generator and the servers run on.

On a machine of few cores wrk competes with the server it measures, and the
ratios between apps move by 0.1-0.4 from run to run. With two cores or more,
wrk runs on the first core this process may use and every server (gunicorn,
and PostgreSQL's cluster) on the others, the same for each app.
``BENCH_PIN=0`` leaves the scheduler free.
"""

from __future__ import annotations

import os
import shutil

_ALLOWED = sorted(os.sched_getaffinity(0))
_PINNED = (
    os.environ.get("BENCH_PIN", "1") != "0"
    and len(_ALLOWED) >= 2
    and shutil.which("taskset") is not None
)
LOAD_CORES = _ALLOWED[:1] if _PINNED else _ALLOWED
SERVER_CORES = _ALLOWED[1:] if _PINNED else _ALLOWED


def _taskset(cores: list[int], command: list[str]) -> list[str]:
    if not _PINNED:
        return command
    return ["taskset", "--cpu-list", ",".join(map(str, cores)), *command]


def for_load(command: list[str]) -> list[str]:
    """``command`` (wrk) run on the load generator's core."""
    return _taskset(LOAD_CORES, command)


def for_server(command: list[str]) -> list[str]:
    """``command`` (a server) run on the servers' cores."""
    return _taskset(SERVER_CORES, command)


def pin_server(pid: int) -> None:
    """Move a running server's process to the servers' cores (the processes it
    starts afterwards inherit them)."""
    if _PINNED:
        os.sched_setaffinity(pid, SERVER_CORES)


def described() -> str:
    """How the run was pinned, for its report."""
    if not _PINNED:
        return f"not pinned (cores {_ALLOWED})"
    return f"wrk on core(s) {LOAD_CORES}, servers on core(s) {SERVER_CORES}"
