"""Pages in a real browser: Debian's headless Chromium driven by Playwright.

``make test`` installs Chromium from Debian's packages (as root with apt-get);
where it is missing the browser tests are skipped, saying so. Screenshots go to
``.artifacts/browser/`` (or ``$BROWSER_ARTIFACTS``), one per page and width.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe

REPOSITORY = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(
    os.environ.get("BROWSER_ARTIFACTS", REPOSITORY / ".artifacts" / "browser")
)
# A phone held upright, a tablet, a laptop.
WIDTHS = (360, 768, 1280)
HEIGHT = 800
# Below 48rem (768 px) the header folds its links into a Menu (style.css).
FOLDED_HEADER_BELOW = 768
# axe's impacts a page may not have.
FORBIDDEN_IMPACTS = ("serious", "critical")


def chromium_path() -> str | None:
    """Debian's Chromium (package chromium), or None if it is not installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def overflow_px(page: Any) -> int:
    """How far the page reaches past the viewport's width (0: no sideways scroll)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - window.innerWidth"
    )


def serious_violations(page: Any) -> list[str]:
    """The serious and critical accessibility violations axe-core finds."""
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']}"
        f" at {[node['target'] for node in violation['nodes']]}"
        for violation in results.response["violations"]
        if violation["impact"] in FORBIDDEN_IMPACTS
    ]


def screenshot(page: Any, name: str, width: int) -> Path:
    """A full-page screenshot under ARTIFACTS; its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def press(page: Any, button: Any) -> int:
    """Press a form's ``button``; the status of the answer to the POST."""
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        button.click()
    return answer.value.status


def notice(page: Any) -> Any:
    """The notice a form that redirected back shows."""
    return page.locator(".flash")


def looks_right(page: Any, name: str, width: int) -> None:
    """Screenshot the page; it must not scroll sideways nor fail axe."""
    screenshot(page, name, width)
    assert overflow_px(page) <= 0, f"{name} scrolls sideways at {width} px"
    assert serious_violations(page) == [], (name, width)
