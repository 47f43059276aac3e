"""The import page's preview in a real browser (tests/browser.py): a clerk tries
a file, reads each change it would make, and imports it with one button, the
file not chosen again, on a phone and on a laptop, with or without JavaScript.
"""

from __future__ import annotations

import pytest
from browser import overflow_px, press, screenshot, serious_violations
from playwright.sync_api import expect
from test_browser import api_caller
from test_browser_stock import tab_of

pytestmark = [pytest.mark.browser, pytest.mark.slow]

IMPORT_HEADER = b"collection,member,quantity\r\n"


@pytest.mark.parametrize(
    ("width", "scripts"),
    [(360, True), (1280, True), (360, False)],
    ids=["phone", "laptop", "phone-without-javascript"],
)
def test_a_tried_file_is_imported_from_its_preview(
    chromium, site, make_token, stored, width, scripts
):
    api_caller(site, make_token)(
        "PUT", "/stock/fruit", {"apple": 30, "pear": 2, "fig": 7}
    )
    with tab_of(
        chromium, site, "clerk", width=width, java_script_enabled=scripts
    ) as tab:
        tab.goto("/import")
        long_name = "a-member-with-a-rather-long-name-that-must-wrap-on-a-phone"
        stock_file = {
            "name": "count.csv",
            "mimeType": "text/csv",
            "buffer": IMPORT_HEADER
            + b"fruit,apple,28\r\nfruit,fig,7\r\nfruit,kiwi,5\r\n"
            + f"fruit,{long_name},1\r\n".encode(),
        }
        tab.get_by_label("File", exact=True).set_input_files(files=[stock_file])
        tab.get_by_label("Remove them from the collections the file names").check()
        tab.get_by_label("Only show what would change").check()
        assert press(tab, tab.get_by_role("button", name="Import", exact=True)) == 303
        preview = tab.get_by_role("region", name="What it would change")
        expect(preview.get_by_role("status")).to_have_text(
            "Would import 1 collection (0 new): 2 members added, 1 changed,"
            " 1 unchanged, 1 removed."
        )
        expect(preview.get_by_role("heading", level=3)).to_have_text(["fruit"])
        expect(
            preview.get_by_role("list", name="Changes to fruit").get_by_role("listitem")
        ).to_have_text(
            [
                "apple: 30 → 28",
                "kiwi: new → 5",
                f"{long_name}: new → 1",
                "pear: 2 → removed",
            ]
        )
        # The form for another file starts afresh.
        expect(tab.get_by_label("Only show what would change")).not_to_be_checked()
        if scripts:
            # (Measuring runs a script in the page, which a tab without
            # JavaScript never answers: the phone with JavaScript measures.)
            screenshot(tab, "import-preview", width)
            assert overflow_px(tab) <= 0, f"the preview scrolls sideways at {width}px"
            assert serious_violations(tab) == []
        assert stored() == {"fruit": {"apple": 30, "pear": 2, "fig": 7}}

        button = tab.get_by_role("button", name="Import these changes")
        assert press(tab, button) == 303
        expect(tab.get_by_role("heading", name="Import stock", level=1)).to_be_visible()
        expect(tab.locator(".flash")).to_contain_text(
            "Imported 1 collection (0 new): 2 members added, 1 changed,"
            " 1 unchanged, 1 removed."
        )
        assert stored() == {"fruit": {"apple": 28, "fig": 7, "kiwi": 5, long_name: 1}}
