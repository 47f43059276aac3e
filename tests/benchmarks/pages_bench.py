"""How long the web interface's reads take with 100,000 members (``make bench-pages``).

In process, through Flask's test client, on a fresh database of 100 collections
of 1,000 members: the overview, the search (a hit, a rare hit at the very end,
and a miss, which reads every name), and a collection's pages (first, and one
deep in by cursor, in each sort). Prints the median and 95th percentile in ms;
no thresholds: the numbers go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent.parent)]

import flask_migrate  # noqa: E402
from databases import BACKENDS, running_backend  # noqa: E402
from in_process import measure  # noqa: E402

from stockapp import create_app  # noqa: E402
from stockapp.core.cursors import encode_position  # noqa: E402
from stockapp.stock import listings, units  # noqa: E402

COLLECTIONS, MEMBERS_EACH = 100, 1000
RARE = "needle"


def load(app) -> None:
    """100,000 members through the units of work, one collection at a time."""
    with app.app_context():
        flask_migrate.upgrade()
        for number in range(COLLECTIONS):
            members = {f"m{index:04}": index % 97 for index in range(MEMBERS_EACH)}
            if number == COLLECTIONS - 1:
                members[RARE] = 1
            units.create_collection(f"c{number:03}", members)


def deep_cursor(sort: str) -> str:
    """The cursor of a page 900 members into a collection, in ``sort`` order."""
    if sort.endswith("name"):
        value = "m0900" if sort == "name" else "m0100"
    else:
        value = 90 if sort == "quantity" else 7
    return encode_position("members:", [sort, value, 10**9 if sort[0] == "-" else 0])


def requests() -> dict[str, str]:
    last = f"c{COLLECTIONS - 1:03}"
    urls = {
        "overview (first 50 collections)": "/",
        "search, a common text": "/?q=m00",
        f"search, one match at the end ({RARE})": f"/?q={RARE}",
        "search, no match (reads every name)": "/?q=zzzz",
        "collection page, by name": f"/collections/{last}",
        f"find in a collection ({RARE})": f"/collections/{last}?q={RARE}",
    }
    for sort in listings.MEMBER_SORTS:
        urls[f"collection page {sort}, 900 members in"] = (
            f"/collections/{last}?sort={sort}&cursor={deep_cursor(sort)}"
        )
    return urls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=BACKENDS, default="sqlite")
    backend_name = parser.parse_args().backend
    with tempfile.TemporaryDirectory() as workdir:
        with running_backend(backend_name, Path(workdir)) as backend:
            url = backend.create_database("pages")
            app = create_app(
                {"SQLALCHEMY_DATABASE_URI": url, "ANONYMOUS_ACCESS": "write"}
            )
            started = time.perf_counter()
            load(app)
            backend.analyze(url)
            print(
                f"{backend_name}: loaded {COLLECTIONS * MEMBERS_EACH + 1:,} members"
                f" in {time.perf_counter() - started:.1f} s"
            )
            client = app.test_client()
            print(f"{'request':<48} {'median ms':>10} {'p95 ms':>8}")
            for name, path in requests().items():
                median, p95 = measure(client, path)
                print(f"{name:<48} {median:>10.2f} {p95:>8.2f}")
            with app.app_context():
                from stockapp.core.extensions import db

                db.engine.dispose()


if __name__ == "__main__":
    main()
