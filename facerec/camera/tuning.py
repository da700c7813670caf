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
    motion_gate: bool = True  # False: every frame to the engine, every face encoded
    motion_area: float = 0.001  # the share of the picture that must change to be movement
    recheck: float = 2.0  # seconds between two encodings of a face whose name is settled
    movement_interval: float = 0.25  # seconds between two searches caused by movement alone

    @classmethod
    def of(
        cls,
        settings,
        tolerance: float | None = None,
        detect_width: int | None = None,
        motion_gate: bool | None = None,
        motion_area: float | None = None,
        recheck: float | None = None,
    ) -> Tuning:
        """The tuning ``settings`` (the app's) give, with a camera's own values over them."""

        def own(value, default):
            return default if value is None else value

        return cls(
            tolerance=tolerance or settings.tolerance,
            detect_width=detect_width or settings.detect_width,
            upsample=settings.detect_upsample,
            motion_gate=own(motion_gate, settings.motion_gate),
            motion_area=own(motion_area, settings.motion_area) / 100,
            recheck=own(recheck, settings.recheck_interval),
            movement_interval=settings.movement_interval,
        )
