"""What is drawn on frames: face boxes with names, and the placeholder shown without a camera."""

from __future__ import annotations

import unicodedata
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT = cv2.FONT_HERSHEY_SIMPLEX
KNOWN = (90, 190, 40)  # BGR
UNKNOWN = (60, 60, 220)
PLACEHOLDER_SIZE = (640, 360)
# Names are drawn with a TrueType font so that "José" or "Łukasz" keep their letters. DejaVu
# Sans (Debian's fonts-dejavu-core) also covers Greek and Cyrillic; without it Pillow's
# built-in font covers Latin scripts, and other scripts fall back to ASCII.
LABEL_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "DejaVuSans.ttf",
)
LATIN_END = 0x250  # Basic Latin to Latin Extended-B: what Pillow's own font draws


def _ascii(text: str) -> str:
    """OpenCV's Hershey fonts draw ASCII only: drop accents rather than print '?'."""
    text = unicodedata.normalize("NFKD", text)
    return text.encode("ascii", "ignore").decode() or "?"


@lru_cache(maxsize=8)
def _font(size: int) -> tuple[ImageFont.FreeTypeFont, bool]:
    """The label font at ``size`` px, and whether it covers more than Latin."""
    for path in LABEL_FONTS:
        try:
            return ImageFont.truetype(path, size), True
        except OSError:
            continue
    return ImageFont.load_default(size=size), False


@lru_cache(maxsize=512)
def label_image(text: str, color: tuple[int, int, int], size: int) -> np.ndarray:
    """A BGR tile with ``text`` in white on ``color``; cached, names repeat every frame."""
    font, wide = _font(size)
    if not wide and any(ord(ch) >= LATIN_END for ch in text):
        text = _ascii(text)
    ascent, descent = font.getmetrics()
    pad = max(3, size // 4)
    width = round(font.getlength(text)) + 2 * pad
    tile = Image.new("RGB", (width, ascent + descent + pad), color[::-1])
    ImageDraw.Draw(tile).text((pad, pad // 2), text, font=font, fill=(255, 255, 255))
    return np.asarray(tile)[:, :, ::-1].copy()


def annotate(frame: np.ndarray, faces) -> np.ndarray:
    """A copy of the BGR ``frame`` with a box and a name on every face."""
    out = frame.copy()
    height, width = out.shape[:2]
    thickness = max(1, round(width / 400))
    size = max(13, round(width / 40))
    for face in faces:
        top, right, bottom, left = (round(v) for v in face.box)
        color = KNOWN if face.known else UNKNOWN
        cv2.rectangle(out, (left, top), (right, bottom), color, thickness)
        tile = label_image(face.name or "Unknown", color, size)
        th, tw = tile.shape[:2]
        # Below the box if it fits, else above it; always inside the frame.
        y = bottom if bottom + th <= height else max(0, top - th)
        x = min(max(0, left), max(0, width - tw))
        region = out[y : y + th, x : x + tw]
        region[...] = tile[: region.shape[0], : region.shape[1]]
    return out


def placeholder(title: str, detail: str = "") -> np.ndarray:
    """A dark frame saying why there is no picture."""
    width, height = PLACEHOLDER_SIZE
    frame = np.full((height, width, 3), (46, 36, 30), dtype=np.uint8)
    lines = [(title, 0.9, 2, (235, 235, 235))]
    for chunk in _wrap(_ascii(detail), 60):
        lines.append((chunk, 0.55, 1, (190, 190, 190)))
    total = sum(cv2.getTextSize(t, FONT, s, w)[0][1] + 16 for t, s, w, _ in lines)
    y = (height - total) // 2
    for text, size, weight, color in lines:
        (tw, th), _ = cv2.getTextSize(text, FONT, size, weight)
        y += th + 16
        cv2.putText(frame, text, ((width - tw) // 2, y), FONT, size, color, weight, cv2.LINE_AA)
    return frame


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    if line:
        lines.append(line)
    return lines


def encode_jpeg(frame: np.ndarray, quality: int = 80) -> bytes:
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()
