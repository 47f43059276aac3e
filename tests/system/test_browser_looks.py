"""The look of the main pages (style.css), light and dark, in a real browser
(tests/browser.py): one accent, one button style, dark mode from the system's
setting, and still no serious accessibility violation nor sideways scroll."""

from __future__ import annotations

import pytest
from browser import WIDTHS, overflow_px, press, screenshot, serious_violations
from playwright.sync_api import expect
from test_browser import api_caller
from test_browser_stock import tab_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The main pages, by name: (path, who looks at it; None: nobody logged in).
PAGES = {
    "overview": ("/", "admin"),
    "collection": ("/collections/fruit", "admin"),
    "member": ("/collections/fruit/members/apple", "admin"),
    "history": ("/collections/fruit/history", "admin"),
    "import": ("/import", "admin"),
    "tokens": ("/tokens", "admin"),
    "users": ("/users", "admin"),
    "login": ("/log-in", None),
}

# The custom properties (style.css :root) each kind of button is painted with.
COLOURS = """() => {
  const root = getComputedStyle(document.documentElement);
  const read = (name) => root.getPropertyValue(name).trim();
  return {
    accent: read("--accent"), surface: read("--surface"),
    "danger-fill": read("--danger-fill"), bg: read("--bg"),
  };
}"""
# Every button of the page's main part, as painted.
BUTTONS = """() => [...document.querySelectorAll("main button")]
  .filter((button) => button.offsetParent !== null)
  .map((button) => {
    const style = getComputedStyle(button);
    return {
      text: button.textContent.trim(), classes: button.className,
      background: style.backgroundColor, radius: style.borderTopLeftRadius,
      border: style.borderTopWidth,
    };
  })"""


def rgb(hex_colour: str) -> str:
    """``#1d4f91`` as a browser computes it: ``rgb(29, 79, 145)``."""
    value = hex_colour.lstrip("#")
    if len(value) == 3:
        value = "".join(2 * digit for digit in value)
    red, green, blue = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgb({red}, {green}, {blue})"


def luminance(computed: str) -> float:
    """The WCAG relative luminance of a computed ``rgb(r, g, b)`` colour."""
    channels = [int(part) / 255 for part in computed[4:-1].split(",")[:3]]
    linear = [
        c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels
    ]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


@pytest.fixture
def stocked(site, make_token):
    """The site with a collection of a few members and a movement or two in its
    history."""
    api = api_caller(site, make_token, user="admin")
    api("PUT", "/stock/fruit", {"apple": 30, "pear": 3, "plum": 12})
    api("POST", "/stock/fruit/apple/adjustments", {"delta": -4, "reason": "sold"})
    return site


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_main_pages_look_finished_in_light_and_dark(chromium, stocked, scheme):
    problems = []
    for width in WIDTHS:
        for user in ("admin", None):
            pages = {name: path for name, (path, who) in PAGES.items() if who == user}
            with tab_of(chromium, stocked, user, width, color_scheme=scheme) as page:
                for name, path in pages.items():
                    page.goto(path)
                    page.wait_for_load_state("networkidle")
                    where = f"{name} ({scheme}, {width} px)"
                    screenshot(page, f"looks-{name}-{scheme}", width)
                    problems += look_of(page, scheme, where)
    assert problems == []


def look_of(page, scheme: str, where: str) -> list[str]:
    """What is wrong with the look of the page open in ``page``."""
    problems = []
    if overflow_px(page) > 0:
        problems.append(f"{where}: scrolls sideways by {overflow_px(page)} px")
    problems += [f"{where}: {found}" for found in serious_violations(page)]

    # The scheme asked for is the one shown.
    colours = page.evaluate(COLOURS)
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == rgb(colours["bg"]), where
    shade = luminance(background)
    if (scheme == "dark") != (shade < 0.05) or (scheme == "light" and shade < 0.8):
        problems.append(f"{where}: background {background} is not {scheme}")
    scheme_used = page.evaluate(
        "() => getComputedStyle(document.documentElement).colorScheme"
    )
    if scheme_used != "light dark":
        problems.append(f"{where}: color-scheme is {scheme_used!r}")

    # One button style: the accent, the surface (secondary) or a deletion's red,
    # all with the same corners and border.
    painted = {
        rgb(colours["accent"]): "primary",
        rgb(colours["surface"]): "secondary",
        rgb(colours["danger-fill"]): "danger",
    }
    buttons = page.evaluate(BUTTONS)
    for button in buttons:
        kind = painted.get(button["background"])
        if kind is None:
            problems.append(f"{where}: button {button} has no style of ours")
        elif kind == "danger" and "danger" not in button["classes"]:
            problems.append(f"{where}: button {button} looks like a deletion")
    if len({(b["radius"], b["border"]) for b in buttons}) > 1:
        problems.append(f"{where}: buttons differ in shape: {buttons}")
    return problems


def test_a_primary_button_wears_the_accent_in_both_schemes(chromium, stocked):
    accents = {}
    for scheme in ("light", "dark"):
        with tab_of(chromium, stocked, "admin", 768, color_scheme=scheme) as page:
            page.goto("/import")
            colours = page.evaluate(COLOURS)
            button = page.get_by_role("button", name="Import", exact=True)
            background = button.evaluate("e => getComputedStyle(e).backgroundColor")
            assert background == rgb(colours["accent"]), scheme
            # The file input's own button is styled as a secondary one.
            picker = page.locator("input[type=file]").evaluate(
                "e => getComputedStyle(e, '::file-selector-button').backgroundColor"
            )
            assert picker == rgb(colours["surface"]), scheme
            accents[scheme] = background
    # Dark mode redefines the accent: lighter, to read on a dark page.
    assert luminance(accents["dark"]) > luminance(accents["light"])


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_what_a_form_said_is_legible_in_light_and_dark(chromium, stocked, scheme):
    with tab_of(chromium, stocked, "clerk", 360, color_scheme=scheme) as page:
        # A success, flashed on the page logging in leads to.
        expect(page.get_by_role("status")).to_be_visible()
        screenshot(page, f"looks-flash-{scheme}", 360)
        assert serious_violations(page) == []

        # A refusal, said in the notice pinned to the screen and in its row.
        page.goto("/collections/fruit")
        row = page.get_by_role("row").filter(
            has=page.get_by_role("rowheader", name="pear", exact=True)
        )
        row.get_by_label("Amount of pear", exact=True).fill("99")
        assert press(page, row.get_by_role("button", name="Take from pear")) == 409
        said = page.locator("#notice .flash")
        expect(said).to_contain_text("Cannot take 99 from pear")
        screenshot(page, f"looks-notice-{scheme}", 360)
        assert serious_violations(page) == []
        colours = page.evaluate(COLOURS)
        dismiss = said.get_by_role("button", name="Dismiss")
        background = dismiss.evaluate("e => getComputedStyle(e).backgroundColor")
        assert background == rgb(colours["surface"])
