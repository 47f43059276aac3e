"""Scanning with the phone's camera, in a real browser (tests/browser.py):
Chromium's fake camera plays a video of a printed label (fake_camera.py), and
"Use the camera" on the Scan page opens the member's page, its Amount field
focused, ready to adjust.

Headless Chromium on Linux has no BarcodeDetector, so these read with the
vendored ZXing; the tests take BarcodeDetector away all the same so that they
always prove that path, and give a stand-in one to prove the other. A camera
refused or absent is said, and typing the code still works.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from browser import HEIGHT, WIDTHS, looks_right
from fake_camera import (
    barcode_label,
    fake_camera_args,
    label_video,
    printed_label,
    qr_label,
)
from helpers import bearer, log_in_as
from PIL import Image
from playwright.sync_api import expect
from test_browser import api_caller

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EAN = "4006381333931"
CODE_128 = "BOLT-M8"
MEMBER_PAGE = "/collections/shelf/members/washers"
# Run before the page's own scripts: no BarcodeDetector, as on most desktops.
WITHOUT_DETECTOR = "delete window.BarcodeDetector;"
REFUSED = (
    "The camera was refused. Allow it in the browser's settings for this site,"
    " or type the code."
)
ABSENT = "No camera could be opened. Type the code, or use a hardware scanner."
# From the click to the member's page: a new Chromium opens its camera, loads
# the decoder and reads; on a busy 2-core runner that can take more than
# expect's 5 s. (A wait, not a timing assertion.)
CAMERA_READ_MS = 30_000


@pytest.fixture
def shelf(site, make_token):
    """The shelf collection: washers carrying EAN, bolts carrying CODE_128."""
    api = api_caller(site, make_token)
    api("PUT", "/stock/shelf", {"bolts": 1200, "washers": 4})
    api("PUT", "/stock/shelf/washers/code", EAN)
    api("PUT", "/stock/shelf/bolts/code", CODE_128)
    return site


@contextmanager
def camera_tab(
    chromium,
    site,
    video: Path | None = None,
    width: int = 1280,
    allowed: bool = True,
    **options,
) -> Iterator:
    """A clerk's tab in a Chromium of its own whose camera plays ``video``,
    ``allowed`` or not (None: the shared Chromium, which has no camera)."""
    browser = (
        chromium.browser_type.launch(
            executable_path=chromium_executable(),
            headless=True,
            args=fake_camera_args(video, allowed),
        )
        if video is not None
        else chromium
    )
    context = browser.new_context(
        base_url=f"http://127.0.0.1:{site.port}",
        viewport={"width": width, "height": HEIGHT},
        **options,
    )
    try:
        tab = context.new_page()
        log_in_as(tab, "clerk")
        expect(tab.get_by_role("status")).to_have_text("Logged in as clerk (clerk).")
        yield tab
    finally:
        context.close()
        if browser is not chromium:
            browser.close()


def chromium_executable() -> str:
    from browser import chromium_path

    path = chromium_path()
    assert path is not None
    return path


def use_the_camera(tab) -> None:
    tab.goto("/scan")
    tab.get_by_role("button", name="Use the camera").click()


def opened_ready_to_adjust(tab, member: str) -> None:
    expect(tab).to_have_url(
        re.compile(rf"/collections/shelf/members/{member}\?scanned=1$"),
        timeout=CAMERA_READ_MS,
    )
    expect(tab.get_by_role("heading", level=1)).to_have_text(member)
    expect(tab.get_by_label("Amount", exact=True)).to_be_focused()


def test_the_label_stockapp_prints_opens_its_members_page(
    chromium, shelf, make_token, tmp_path
):
    """label.svg (its QR code of the member's page and its EAN-13), printed and
    held up to the camera."""
    reply = shelf.request(
        "GET",
        "/stock/shelf/washers/label.svg",
        headers=bearer(make_token("viewer", "read")),
    )
    assert reply.status == 200
    video = label_video(tmp_path / "label.y4m", printed_label(reply.body.decode()))
    with camera_tab(chromium, shelf, video, 360) as tab:
        tab.add_init_script(WITHOUT_DETECTOR)
        use_the_camera(tab)
        opened_ready_to_adjust(tab, "washers")


@pytest.mark.parametrize("width", WIDTHS)
def test_a_labels_qr_code_opens_its_members_page(chromium, shelf, tmp_path, width):
    link = f"http://127.0.0.1:{shelf.port}{MEMBER_PAGE}"
    video = label_video(tmp_path / "qr.y4m", qr_label(link))
    with camera_tab(chromium, shelf, video, width) as tab:
        tab.add_init_script(WITHOUT_DETECTOR)
        tab.goto("/scan")
        expect(tab.locator("#camera")).to_be_visible()
        looks_right(tab, "scan-camera-off", width)
        tab.get_by_role("button", name="Use the camera").click()
        opened_ready_to_adjust(tab, "washers")
        looks_right(tab, "member-scanned", width)


@pytest.mark.parametrize(
    ("kind", "code", "member"),
    [("ean13", EAN, "washers"), ("code128", CODE_128, "bolts")],
)
def test_a_linear_barcode_is_read_by_the_vendored_decoder(
    chromium, shelf, tmp_path, kind, code, member
):
    video = label_video(tmp_path / f"{kind}.y4m", barcode_label(kind, code))
    with camera_tab(chromium, shelf, video) as tab:
        tab.add_init_script(WITHOUT_DETECTOR)
        decoder = []
        tab.on("request", lambda r: decoder.append(r.url) if "zxing" in r.url else 0)
        use_the_camera(tab)
        opened_ready_to_adjust(tab, member)
        assert [url.rsplit("/", 1)[1] for url in decoder] == [
            "zxing-library-0.23.0.min.js"
        ]


def test_the_camera_on_the_page_while_it_looks(chromium, shelf, tmp_path):
    """The picture shows, the decoder is ZXing, and Stop turns it off."""
    blank = label_video(tmp_path / "blank.y4m", Image.new("RGB", (300, 120), "white"))
    with camera_tab(chromium, shelf, blank, 360) as tab:
        tab.add_init_script(WITHOUT_DETECTOR)
        use_the_camera(tab)
        camera = tab.locator("#camera")
        expect(camera).to_have_attribute("data-reader", "zxing")
        expect(tab.get_by_role("status")).to_have_text(
            "Point the camera at a label's barcode or QR code."
        )
        view = tab.get_by_label("What the camera sees")
        expect(view).to_be_visible()
        tab.wait_for_function(
            "document.querySelector('.camera-view').videoWidth === 640"
        )
        looks_right(tab, "scan-camera-on", 360)
        tab.get_by_role("button", name="Stop the camera").click()
        expect(view).to_be_hidden()
        live = "document.querySelector('.camera-view').srcObject"
        assert tab.evaluate(live) is None
        expect(tab.get_by_role("button", name="Use the camera")).to_be_visible()


@pytest.mark.parametrize(("persisted", "stays_on"), [(False, True), (True, False)])
def test_only_a_return_from_the_back_forward_cache_turns_the_camera_off(
    chromium, shelf, tmp_path, persisted, stays_on
):
    """Every load ends with a pageshow: a person who taps "Use the camera"
    before it keeps the camera; coming back to the page from the cache stops it."""
    blank = label_video(tmp_path / "blank.y4m", Image.new("RGB", (300, 120), "white"))
    with camera_tab(chromium, shelf, blank, 360) as tab:
        tab.add_init_script(WITHOUT_DETECTOR)
        use_the_camera(tab)
        view = tab.get_by_label("What the camera sees")
        expect(view).to_be_visible()
        tab.evaluate(
            "persisted => window.dispatchEvent("
            "new PageTransitionEvent('pageshow', { persisted }))",
            persisted,
        )
        live = "document.querySelector('.camera-view').srcObject !== null"
        assert tab.evaluate(live) is stays_on
        if stays_on:
            expect(view).to_be_visible()
            expect(tab.get_by_role("button", name="Stop the camera")).to_be_visible()
        else:
            expect(view).to_be_hidden()
            expect(tab.get_by_role("button", name="Use the camera")).to_be_visible()


def test_the_browsers_barcode_detector_reads_where_it_has_one(
    chromium, shelf, tmp_path
):
    """A stand-in BarcodeDetector (as Android's Chrome has) answers; ZXing is
    never loaded."""
    video = label_video(tmp_path / "qr.y4m", qr_label("unused"))
    stand_in = f"""
      window.BarcodeDetector = class {{
        static async getSupportedFormats() {{
          return ["aztec", "code_128", "ean_13", "ean_8", "qr_code", "upc_a"];
        }}
        constructor(options) {{
          sessionStorage.setItem("asked for", options.formats.join(" "));
        }}
        async detect(video) {{
          sessionStorage.setItem("looked at", video.localName);
          return [{{ rawValue: "{EAN}", format: "ean_13" }}];
        }}
      }};
    """
    with camera_tab(chromium, shelf, video) as tab:
        tab.add_init_script(stand_in)
        loaded = []
        tab.on("request", lambda r: loaded.append(r.url) if "zxing" in r.url else 0)
        use_the_camera(tab)
        opened_ready_to_adjust(tab, "washers")
        assert loaded == []
        asked = tab.evaluate(
            "[sessionStorage['asked for'], sessionStorage['looked at']]"
        )
        assert asked == ["qr_code ean_13 upc_a ean_8 code_128", "video"]


@pytest.mark.parametrize(("case", "said"), [("refused", REFUSED), ("absent", ABSENT)])
def test_a_camera_refused_or_absent_is_said_and_typing_still_works(
    chromium, shelf, tmp_path, case, said
):
    # Refused: a camera the person does not allow. Absent: no camera at all.
    video = label_video(tmp_path / "qr.y4m", qr_label("unused"))
    there = {"video": video, "allowed": False} if case == "refused" else {}
    with camera_tab(chromium, shelf, width=360, **there) as tab:
        use_the_camera(tab)
        expect(tab.get_by_role("alert")).to_have_text(said)
        expect(tab.get_by_role("button", name="Use the camera")).to_be_visible()
        looks_right(tab, f"scan-camera-{case}", 360)
        tab.get_by_label("Code", exact=True).fill(EAN)
        tab.keyboard.press("Enter")
        opened_ready_to_adjust(tab, "washers")


def test_without_script_the_page_is_the_typed_form(chromium, shelf):
    with camera_tab(chromium, shelf, None, 360, java_script_enabled=False) as tab:
        tab.goto("/scan")
        expect(tab.get_by_role("button", name="Use the camera")).to_be_hidden()
        tab.get_by_label("Code", exact=True).fill(CODE_128)
        tab.get_by_role("button", name="Find").click()
        expect(tab).to_have_url(re.compile(r"/members/bolts\?scanned=1$"))
