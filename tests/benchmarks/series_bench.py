"""How long a series takes with 1,000,000 movements of a member (``make bench-series``).

In process, through Flask's test client, on a fresh database: one member whose
log holds a million movements spread over the last year (ten of them changes
of reorder level, so the level's seek must skip the rest through its partial
index), and a collection of 1,000 members with ten movements each. Filled with
one INSERT ... SELECT of generated rows, not through the API (a million
requests would take an hour and measure nothing here). Prints the median and
95th percentile in ms; no thresholds: the numbers go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent.parent)]

import flask_migrate  # noqa: E402
from databases import BACKENDS, running_backend  # noqa: E402
from in_process import measure  # noqa: E402
from sqlalchemy import text  # noqa: E402

from stockapp import create_app  # noqa: E402
from stockapp.core.extensions import db  # noqa: E402
from stockapp.stock import units  # noqa: E402

MOVEMENTS = 1_000_000
# One in this many is a change of reorder level.
LEVEL_EVERY = 100_000
MEMBERS, MOVEMENTS_EACH = 1000, 10
SPAN_SECONDS = 365 * 24 * 3600

# The i-th generated time: i * seconds after a year ago, in each engine's
# spelling (SQLite stores times as text, SQLAlchemy's way).
_TIMES = {
    "sqlite": "strftime('%Y-%m-%d %H:%M:%S', 'now', '-365 days',"
    " '+' || (i * :seconds) || ' seconds') || '.000000'",
    "postgresql": "now() - interval '365 days' + i * :seconds * interval '1 second'",
}
_FILL = """
INSERT INTO movements (collection, member, kind, "before", "after", at,
                       level_before, level_after)
WITH RECURSIVE n(i) AS (
    SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count
)
SELECT :collection, {member}, CASE WHEN i % :level_every = 0 THEN 'level'
       ELSE 'adjust' END,
       i % 50, CASE WHEN i % :level_every = 0 THEN i % 50 ELSE (i + 1) % 50 END,
       {at},
       CASE WHEN i % :level_every = 0 THEN 5 END,
       CASE WHEN i % :level_every = 0 THEN 6 END
FROM n
"""


def fill(app, dialect: str) -> None:
    """The member "big" of "bench" with a million movements, and "shop" with
    1,000 members of ten movements each."""
    at = _TIMES[dialect]
    with app.app_context():
        flask_migrate.upgrade()
        units.create_collection("bench", {"big": 0})
        units.create_collection("shop", {f"m{n:04}": 0 for n in range(MEMBERS)})
        db.session.execute(
            text(_FILL.format(member="'big'", at=at)),
            {
                "count": MOVEMENTS,
                "collection": "bench",
                "level_every": LEVEL_EVERY,
                "seconds": SPAN_SECONDS / MOVEMENTS,
            },
        )
        member = {
            "sqlite": "'m' || substr('000' || (i % :members), -4)",
            "postgresql": "'m' || lpad((i % :members)::text, 4, '0')",
        }[dialect]
        db.session.execute(
            text(_FILL.format(member=member, at=at)),
            {
                "count": MEMBERS * MOVEMENTS_EACH,
                "collection": "shop",
                "level_every": LEVEL_EVERY,
                "seconds": SPAN_SECONDS / (MEMBERS * MOVEMENTS_EACH),
                "members": MEMBERS,
            },
        )
        db.session.commit()


def requests() -> dict[str, str]:
    member = "/stock/bench/big/series"
    return {
        "member, 30 days by day (31 points)": member,
        "member, a year by week (53 points)": f"{member}?step=week&from="
        + _days_ago(364),
        "member, a year by day (366 points)": f"{member}?step=day&from="
        + _days_ago(365),
        "member, 1,000 points by hour": f"{member}?step=hour&from=" + _hours_ago(999),
        "collection of 1,000 members, 30 days by day": "/stock/shop/series",
        "collection of 1,000 members, 7 days by day": "/stock/shop/series?from="
        + _days_ago(7),
    }


def _days_ago(days: int) -> str:
    return _hours_ago(days * 24)


def _hours_ago(hours: int) -> str:
    at = datetime.now(UTC) - timedelta(hours=hours)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    backend_name = parser.parse_args().backend
    with tempfile.TemporaryDirectory() as workdir:
        with running_backend(backend_name, Path(workdir)) as backend:
            url = backend.create_database("series")
            app = create_app(
                {"SQLALCHEMY_DATABASE_URI": url, "ANONYMOUS_ACCESS": "write"}
            )
            started = time.perf_counter()
            fill(app, backend_name)
            backend.analyze(url)
            print(
                f"{backend_name}: logged {MOVEMENTS:,} movements of one member and"
                f" {MEMBERS * MOVEMENTS_EACH:,} of {MEMBERS:,} more"
                f" in {time.perf_counter() - started:.1f} s"
            )
            client = app.test_client()
            print(f"{'request':<48} {'median ms':>10} {'p95 ms':>8}")
            for name, path in requests().items():
                median, p95 = measure(client, path)
                print(f"{name:<48} {median:>10.2f} {p95:>8.2f}")
            with app.app_context():
                db.engine.dispose()


if __name__ == "__main__":
    main()
