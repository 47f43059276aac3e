"""What changed in the OpenAPI document since a git revision: ``make api-diff``.

Builds the document of ``REV`` (a checkout in a temporary folder) and of the
work tree, normalises both (key order, and the order of lists whose order means
nothing: tags, enums, parameters), and lists every leaf removed, changed or
added. A string that keeps all its old text and says more counts as extended,
not changed. Exits 1 if anything was removed or changed, so a refactoring of
how the document is built can prove it lost nothing.

    python tests/contract/api_document_diff.py 4820c05
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[2]
_DOCUMENT = """
import json, sys
from stockapp import create_app
app = create_app({"TESTING": True, "SECRET_KEY": "diff",
                  "SQLALCHEMY_DATABASE_URI": "sqlite:///:memory:"})
json.dump(app.test_client().get("/openapi.json").get_json(), sys.stdout)
"""


def document_at(tree: Path) -> dict[str, Any]:
    """The OpenAPI document the code in ``tree`` serves."""
    env = {**os.environ, "PYTHONPATH": str(tree), "STOCKAPP_CONFIG": "testing"}
    output = subprocess.run(
        [sys.executable, "-c", _DOCUMENT],
        cwd=tree,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output)


def leaves(value: Any, path: str = "") -> dict[str, Any]:
    """Every scalar of ``value`` by its path; lists of scalars become sets, and
    lists of objects are keyed by what names them (or by their place)."""
    if isinstance(value, dict):
        found: dict[str, Any] = {}
        for key, item in value.items():
            found.update(leaves(item, f"{path}/{key}"))
        return found
    if isinstance(value, list):
        if all(not isinstance(item, dict | list) for item in value):
            return {f"{path}[]": frozenset(json.dumps(item) for item in value)}
        found = {}
        for place, item in enumerate(value):
            named = isinstance(item, dict) and (item.get("name") or item.get("$ref"))
            found.update(leaves(item, f"{path}[{named or place}]"))
        return found
    return {path: value}


def compare(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[str]]:
    before, after = leaves(old), leaves(new)
    report: dict[str, list[str]] = {
        "removed": [],
        "changed": [],
        "extended": [],
        "added": [],
    }
    for path, value in before.items():
        if path not in after:
            report["removed"].append(f"{path}: {value!r}")
        elif after[path] != value:
            was, now = value, after[path]
            if isinstance(was, frozenset) and was <= now:
                report["extended"].append(f"{path}: + {sorted(now - was)}")
            elif isinstance(was, str) and isinstance(now, str) and now.startswith(was):
                report["extended"].append(f"{path}: + {now[len(was) :]!r}")
            else:
                report["changed"].append(f"{path}: {was!r} -> {now!r}")
    report["added"] = [f"{p}: {v!r}" for p, v in after.items() if p not in before]
    return report


def main(revision: str) -> int:
    with tempfile.TemporaryDirectory() as folder:
        tree = Path(folder) / "old"
        subprocess.run(
            [
                "git",
                "-C",
                str(REPOSITORY),
                "worktree",
                "add",
                "--detach",
                str(tree),
                revision,
            ],
            check=True,
            capture_output=True,
        )
        try:
            old = document_at(tree)
        finally:
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(REPOSITORY),
                    "worktree",
                    "remove",
                    "--force",
                    str(tree),
                ],
                check=True,
            )
    new = document_at(REPOSITORY)
    report = compare(old, new)
    for kind, lines in report.items():
        print(f"{kind}: {len(lines)}")
        for line in lines:
            print(f"  {line}")
    return 1 if report["removed"] or report["changed"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "HEAD"))
