"""Boxes in a picture, ``(top, right, bottom, left)`` in pixels (face_recognition's order):
how much two overlap, a box grown around its centre or scaled onto a picture of another
size, boxes merged into regions."""

from __future__ import annotations

Box = tuple[float, float, float, float]


def area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[1] - box[3])


def intersection(a: Box, b: Box) -> float:
    top, bottom = max(a[0], b[0]), min(a[2], b[2])
    left, right = max(a[3], b[3]), min(a[1], b[1])
    return max(0.0, bottom - top) * max(0.0, right - left)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    inter = intersection(a, b)
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def overlap_of_smaller(a: Box, b: Box) -> float:
    """The share of the smaller box that lies inside the other (1: one holds the other)."""
    smaller = min(area(a), area(b))
    return intersection(a, b) / smaller if smaller > 0 else 0.0


def grown(box: Box, margin: float, minimum: float, width: float, height: float) -> Box:
    """``box`` with ``margin`` times its size added on each side, at least ``minimum`` wide
    and high, kept inside a ``width`` x ``height`` picture."""
    top, right, bottom, left = box
    cy, cx = (top + bottom) / 2, (left + right) / 2
    half_h = max((bottom - top) * (0.5 + margin), minimum / 2)
    half_w = max((right - left) * (0.5 + margin), minimum / 2)
    return (
        max(0.0, cy - half_h),
        min(float(width), cx + half_w),
        min(float(height), cy + half_h),
        max(0.0, cx - half_w),
    )


def scaled(box: Box, sx: float, sy: float) -> Box:
    """``box`` in a picture ``sx`` times as wide and ``sy`` times as high."""
    top, right, bottom, left = box
    return (top * sy, right * sx, bottom * sy, left * sx)


def merged(boxes: list[Box]) -> list[Box]:
    """Boxes that touch or overlap joined into their bounding boxes, until none do."""
    regions = list(boxes)
    joined = True
    while joined:
        joined = False
        for i in range(len(regions)):
            for j in range(i + 1, len(regions)):
                a, b = regions[i], regions[j]
                if a[0] <= b[2] and b[0] <= a[2] and a[3] <= b[1] and b[3] <= a[1]:
                    regions[i] = (
                        min(a[0], b[0]),
                        max(a[1], b[1]),
                        max(a[2], b[2]),
                        min(a[3], b[3]),
                    )
                    del regions[j]
                    joined = True
                    break
            if joined:
                break
    return regions
