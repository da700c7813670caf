"""A camera's tuning: how its frames are recognised, one frozen value per camera.

Built in one place (``Tuning.of``) from the settings and the camera's own row, owned by the
camera's service, and sent with every frame to the engine, which keeps nothing of any
camera. Changing a camera builds a new value.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tuning:
    tolerance: float = 0.6  # match threshold on the euclidean distance
    detect_width: int = 640  # frames are downscaled to this width for detection
    upsample: int = 1  # dlib's upsampling for detection (1: faces down to ~40 px at that width)

    @classmethod
    def of(cls, settings, tolerance: float | None = None, detect_width: int | None = None):
        """The tuning ``settings`` (the app's) give, with a camera's own values over them."""
        return cls(
            tolerance=tolerance or settings.tolerance,
            detect_width=detect_width or settings.detect_width,
            upsample=settings.detect_upsample,
        )
