"""What is drawn on frames: face boxes with names, and the placeholder shown without a camera."""

from __future__ import annotations

import unicodedata

import cv2
import numpy as np

FONT = cv2.FONT_HERSHEY_SIMPLEX
KNOWN = (90, 190, 40)  # BGR
UNKNOWN = (60, 60, 220)
PLACEHOLDER_SIZE = (640, 360)


def _ascii(text: str) -> str:
    """OpenCV's Hershey fonts draw ASCII only: drop accents rather than print '?'."""
    text = unicodedata.normalize("NFKD", text)
    return text.encode("ascii", "ignore").decode() or "?"


def annotate(frame: np.ndarray, faces) -> np.ndarray:
    """A copy of the BGR ``frame`` with a box and a name on every face."""
    out = frame.copy()
    height, width = out.shape[:2]
    thickness = max(1, round(width / 400))
    scale = max(0.45, width / 1400)
    for face in faces:
        top, right, bottom, left = (round(v) for v in face.box)
        color = KNOWN if face.user_id is not None else UNKNOWN
        cv2.rectangle(out, (left, top), (right, bottom), color, thickness)
        label = _ascii(face.name) if face.name else "Unknown"
        (tw, th), base = cv2.getTextSize(label, FONT, scale, 1)
        y = bottom if bottom + th + base + 6 < height else max(0, top - th - base - 6)
        cv2.rectangle(out, (left, y), (left + tw + 8, y + th + base + 6), color, cv2.FILLED)
        cv2.putText(
            out, label, (left + 4, y + th + 3), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA
        )
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
