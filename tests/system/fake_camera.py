"""A fake camera for the browser tests: a video of a printed label, held up.

Chromium plays a YUV4MPEG2 file as its camera when launched with
``--use-file-for-fake-video-capture`` (FAKE_CAMERA_ARGS); ``label_video`` makes
one of a white label lying on a grey shelf, slightly turned, as a phone held
over it sees it. The label is the one stockapp prints (its label.svg, drawn by
resvg), or carries only a QR code (segno) of a member page's URL or only a
linear barcode (python-barcode: EAN-13 or Code 128) of a member's code.
"""

from __future__ import annotations

import io
from pathlib import Path

import barcode
import resvg_py
import segno
from barcode.writer import ImageWriter
from PIL import Image

WIDTH, HEIGHT = 640, 480
FRAMES = 6
FPS = 10
_SHELF = (118, 118, 112)
_PAPER = (250, 250, 246)


def printed_label(svg: str, width: int = 600) -> Image.Image:
    """stockapp's own label (``svg``, from label.svg), printed ``width`` px wide."""
    png = resvg_py.svg_to_bytes(
        svg_string=svg, background="#ffffff", dpi=96.0, width=width
    )
    return Image.open(io.BytesIO(bytes(png))).convert("RGB")


def qr_label(text: str) -> Image.Image:
    """A printed QR code of ``text`` (a member page's absolute URL)."""
    picture = io.BytesIO()
    segno.make(text, error="m").save(picture, kind="png", scale=6, border=4)
    return Image.open(io.BytesIO(picture.getvalue())).convert("RGB")


def barcode_label(kind: str, code: str) -> Image.Image:
    """A printed linear barcode (``kind``: "ean13" or "code128") of ``code``."""
    writer = ImageWriter()
    drawn = barcode.get(kind, code, writer=writer)
    options = {"module_width": 0.5, "module_height": 18, "quiet_zone": 6, "dpi": 100}
    return drawn.render(options).convert("RGB")


def camera_frame(label: Image.Image, turn: float = 2.0) -> Image.Image:
    """The label on the shelf in the camera's picture, turned by ``turn``°."""
    paper = Image.new("RGB", (label.width + 40, label.height + 40), _PAPER)
    paper.paste(label, (20, 20))
    scale = min(2.0, 0.7 * WIDTH / paper.width, 0.7 * HEIGHT / paper.height)
    paper = paper.resize((int(paper.width * scale), int(paper.height * scale)))
    paper = paper.rotate(turn, expand=True, fillcolor=_SHELF)
    frame = Image.new("RGB", (WIDTH, HEIGHT), _SHELF)
    frame.paste(paper, ((WIDTH - paper.width) // 2, (HEIGHT - paper.height) // 2))
    return frame


def write_y4m(path: Path, frames: list[Image.Image]) -> Path:
    """``frames`` as a YUV4MPEG2 file (4:2:0, full-range JPEG chroma siting)."""
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            y, cb, cr = frame.convert("YCbCr").split()
            half = (WIDTH // 2, HEIGHT // 2)
            out.write(b"FRAME\n")
            out.write(y.tobytes())
            out.write(cb.resize(half, Image.Resampling.BOX).tobytes())
            out.write(cr.resize(half, Image.Resampling.BOX).tobytes())
    return path


def label_video(path: Path, label: Image.Image) -> Path:
    """A short video of ``label`` held a little unsteadily (it turns 1–3°)."""
    turns = [1.0 + 2.0 * (i % 3) / 2 for i in range(FRAMES)]
    return write_y4m(path, [camera_frame(label, turn) for turn in turns])


def fake_camera_args(video: Path, allowed: bool = True) -> list[str]:
    """Chromium's switches for a camera that plays ``video``: allowed at once,
    or (not ``allowed``) left to the page's permissions, which refuse it unless
    the browser context grants "camera"."""
    switches = [
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    return [*switches, "--use-fake-ui-for-media-stream"] if allowed else switches
