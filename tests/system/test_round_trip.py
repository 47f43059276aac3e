"""A million members out and back in: ``flask stock export`` then ``flask stock
import`` into an empty database gives the same stock, byte for byte.

Run as an operator would, in processes of their own. The times are printed for
docs/performance.md (``pytest -s``), never held to a number.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from gunicorn_server import REPOSITORY

pytestmark = pytest.mark.slow

COLLECTIONS, EACH = 1_000, 1_000


def flask(url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", *args],
        cwd=REPOSITORY,
        env={**os.environ, "DATABASE_URL": url, "STOCKAPP_CONFIG": "development"},
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )


def test_a_million_members_export_and_import_into_an_empty_database(
    databases, tmp_path
):
    export_format = "csv"
    source = databases.create(tmp_path, migrated=True)
    target = databases.create(tmp_path, migrated=True)
    seed = tmp_path / "seed.csv"
    with seed.open("w", encoding="utf-8", newline="") as file:
        file.write("collection,member,quantity,code\r\n")
        for c in range(COLLECTIONS):
            file.writelines(f"c{c:04},m{m:04},{m},\r\n" for m in range(EACH))
    try:
        flask(source, "stock", "import", str(seed))
        exported = tmp_path / f"stock.{export_format}"
        started = time.perf_counter()
        flask(source, "stock", "export", "--format", export_format, str(exported))
        export_seconds = time.perf_counter() - started
        started = time.perf_counter()
        result = flask(target, "stock", "import", str(exported))
        import_seconds = time.perf_counter() - started
        again = tmp_path / f"again.{export_format}"
        flask(target, "stock", "export", "--format", export_format, str(again))
    finally:
        databases.drop(source)
        databases.drop(target)
    assert result.stdout == (
        f"Imported {COLLECTIONS} collections ({COLLECTIONS} new):"
        f" {COLLECTIONS * EACH} members added, 0 changed, 0 unchanged, 0 removed.\n"
    )
    assert again.read_bytes() == exported.read_bytes()
    assert exported.read_bytes() == seed.read_bytes()
    size = exported.stat().st_size / 2**20
    print(
        f"\n{COLLECTIONS * EACH:,} members, {size:.1f} MiB of {export_format}:"
        f" export {export_seconds:.1f} s, import {import_seconds:.1f} s"
    )
