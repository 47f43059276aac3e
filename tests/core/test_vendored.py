"""The vendored front-end files are the pinned releases their README names."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

VENDOR = Path(__file__).resolve().parents[2] / "stockapp" / "static" / "vendor"
# | `file` | library | version | from | licence | `sha256` |
_ENTRY = re.compile(r"^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|$", re.M)


def entries() -> list[tuple[str, str]]:
    return _ENTRY.findall((VENDOR / "README.md").read_text())


def test_the_readme_names_every_vendored_script():
    named = {name for name, _ in entries()}
    assert named == {path.name for path in VENDOR.glob("*.js")}
    assert named  # htmx at least


@pytest.mark.parametrize(("name", "digest"), entries())
def test_each_file_is_the_release_the_readme_pins(name, digest):
    assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest


def test_each_library_has_its_licence_beside_it():
    assert "Zero-Clause BSD" in (VENDOR / "htmx-LICENSE.txt").read_text()
    assert "Apache License" in (VENDOR / "zxing-library-LICENSE.txt").read_text()
