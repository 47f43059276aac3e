"""Running a benchmark so that the servers it starts stop however it ends: on
success, on bad answers, on Ctrl-C or SIGTERM (and a second one of those does
not cut the clean-up short)."""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack

from load import BadResponses


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_guarded(work: Callable[[ExitStack], None], label: str) -> int:
    """Run ``work`` with the ExitStack its servers are stopped by; the exit
    status (0, 1 for bad answers, 130 when interrupted) and, on standard
    error, ``label`` and the seconds it took."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    started = time.monotonic()
    stack = ExitStack()
    try:
        work(stack)
        return 0
    except BadResponses as error:
        print(f"FAILED, the numbers would mean nothing: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted; stopping the servers.", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stack.close()
        print(f"{label}: {time.monotonic() - started:.0f} s", file=sys.stderr)
