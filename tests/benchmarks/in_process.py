"""Timing GETs in process, through Flask's test client (pages_bench,
series_bench): no server, no network, only what the app itself costs."""

from __future__ import annotations

import statistics
import time

# GETs timed per URL (after one untimed GET that warms caches and checks it).
ROUNDS = 40


def measure(client, url: str) -> tuple[float, float]:
    """Median and 95th percentile of ``ROUNDS`` GETs of ``url``, in ms."""
    first = client.get(url)
    assert first.status_code == 200, (url, first.get_data(as_text=True)[:500])
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = client.get(url)
        response.get_data()
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, url
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]
