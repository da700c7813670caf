"""Faces for the person page: from an uploaded photo or the camera, off the web process."""

from __future__ import annotations

import hashlib

from flask import current_app

from .. import engine, faces


def sample_from_upload(data: bytes) -> tuple[faces.Sample, str]:
    """The single usable face of an uploaded photo and the photo's SHA-256."""
    app = current_app._get_current_object()
    return engine.sample_from_image(app, data), hashlib.sha256(data).hexdigest()


def sample_from_snapshot(rgb) -> faces.Sample:
    return engine.sample_from_frame(current_app._get_current_object(), rgb)
