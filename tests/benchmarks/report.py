"""Medians over rounds, ratios to the floor, the printed table and the JSON file."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

from workloads import SCALING_COLLECTIONS, SCALING_OPERATIONS, Workload, scaling_name


@dataclass(frozen=True)
class Measurement:
    """One measured run of one workload on one app."""

    round: int
    workload: str
    app: str
    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float
    # The PostgreSQL cluster's processes (None on SQLite, whose work is the app's).
    db_cpu_ms_per_request: float | None


@dataclass(frozen=True)
class Row:
    """A workload on an app: the medians over rounds, and the ratio to its baseline."""

    workload: str
    app: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float
    db_cpu_ms_per_request: float | None
    # This app's requests/s ÷ the baseline's (None on the baseline itself).
    ratio: float | None
    baseline: str | None
    # The lowest and highest of that ratio in a single round.
    ratio_spread: tuple[float, float] | None = None


def _median(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


def summarize(measurements: list[Measurement], workloads: list[Workload]) -> list[Row]:
    rows = []
    for workload in workloads:
        medians = {}
        for app in workload.apps:
            runs = [
                m for m in measurements if m.workload == workload.name and m.app == app
            ]
            medians[app] = {
                field: _median([getattr(run, field) for run in runs])
                for field in (
                    "requests_per_second",
                    "p50_ms",
                    "p99_ms",
                    "cpu_ms_per_request",
                    "db_cpu_ms_per_request",
                )
            }
        for app, values in medians.items():
            ratio, spread = None, None
            if workload.baseline and app != workload.baseline:
                baseline_rps = medians[workload.baseline]["requests_per_second"]
                ratio = values["requests_per_second"] / baseline_rps
                rounds = _round_ratios(
                    measurements, workload.name, app, workload.baseline
                )
                spread = (min(rounds), max(rounds)) if rounds else None
            rows.append(
                Row(
                    workload.name,
                    app,
                    **values,
                    ratio=ratio,
                    baseline=workload.baseline,
                    ratio_spread=spread,
                )
            )
    return rows


def _round_ratios(
    measurements: list[Measurement], workload: str, app: str, baseline: str
) -> list[float]:
    """``app``'s requests/s ÷ ``baseline``'s, round by round."""
    rps = {
        (m.app, m.round): m.requests_per_second
        for m in measurements
        if m.workload == workload
    }
    return [
        value / rps[baseline, number]
        for (name, number), value in rps.items()
        if name == app and (baseline, number) in rps
    ]


def scaling_ratios(rows: list[Row]) -> list[dict[str, float | str]]:
    """Per operation, big ÷ small of stockapp's requests/s and p50 latency."""
    by_name = {row.workload: row for row in rows if row.app == "stockapp"}
    ratios = []
    for operation in SCALING_OPERATIONS:
        small, big = (
            by_name.get(scaling_name(operation, c)) for c in SCALING_COLLECTIONS
        )
        if small and big:
            ratios.append(
                {
                    "operation": operation,
                    "rps_big_over_small": big.requests_per_second
                    / small.requests_per_second,
                    "p50_big_over_small": big.p50_ms / small.p50_ms,
                }
            )
    return ratios


def table(backend: str, rows: list[Row], scaling: list[dict]) -> str:
    with_db = any(row.db_cpu_ms_per_request is not None for row in rows)
    header = (
        f"{'workload':16} {'app':9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'CPU ms/req':>10}" + (f" {'db CPU':>7}" if with_db else "") + "  ratio"
    )
    lines = [f"== {backend} (medians over rounds)", header]
    for row in rows:
        line = (
            f"{row.workload:16} {row.app:9} {row.requests_per_second:8.0f}"
            f" {row.p50_ms:7.2f} {row.p99_ms:7.2f} {row.cpu_ms_per_request:10.2f}"
        )
        if with_db:
            line += f" {row.db_cpu_ms_per_request or 0:7.2f}"
        if row.ratio is not None:
            line += f"  {row.ratio:.2f} of {row.baseline}"
            if row.ratio_spread is not None:
                low, high = row.ratio_spread
                line += f" (rounds {low:.2f}–{high:.2f})"
        lines.append(line)
    if scaling:
        lines.append("scaling, stockapp, 100,000-member ÷ 3-member collection:")
        for ratio in scaling:
            lines.append(
                f"  {ratio['operation']:12} req/s {ratio['rps_big_over_small']:5.2f}"
                f"   p50 {ratio['p50_big_over_small']:5.2f}"
            )
    return "\n".join(lines)


def write_json(
    path: Path,
    settings: dict,
    measurements: list[Measurement],
    rows: list[Row],
    scaling: list[dict],
) -> None:
    path.parent.mkdir(exist_ok=True)
    document = {
        "settings": settings,
        "summary": [asdict(row) for row in rows],
        "scaling": scaling,
        "runs": [asdict(measurement) for measurement in measurements],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
