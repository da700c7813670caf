"""Notifications from the live pipeline, delivered by Apprise to a real SMTP server."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from facerec import events, faces
from facerec.encodings import distance
from facerec.extensions import db
from facerec.models import FaceSample, Sighting

from .conftest import enroll
from .servers import wait_for
from .test_notifications import add_target

# On SQLite alone (see conftest.py): the camera pipeline is the subject.
pytestmark = pytest.mark.sqlite_only


def face_box_in_crop(crop, margin=0.2):
    """Where the face is in a picture ``faces.crop`` cut with ``margin`` around it (the
    margin may be cut short at the frame's edge; the encoder tolerates a box a little off)."""
    height, width = crop.shape[:2]
    dy, dx = round(height * margin / (1 + 2 * margin)), round(width * margin / (1 + 2 * margin))
    return (dy, width - dx, height - dy, dx)


def watch(app, until, timeout=120.0):
    """Play the app's first camera until ``until()`` holds, then stop it and let every
    sighting and event it made go out."""
    cam = app.extensions["cameras"].first()
    cam.start()
    try:
        assert wait_for(until, timeout, interval=0.2), "the camera did not get that far"
    finally:
        cam.stop()
        app.extensions["sightings"].flush(10)
        app.extensions["events"].flush(10)


def test_do_unknown_visitors_at_main_send_one_email_per_arrival_and_known_people_none(
    app_factory, smtp, data_dir, clip_10fps
):
    """known/ enrolled but lin-manuel-miranda: every face in the clip is an unknown visitor.
    (The clip's scenes at 10 fps: the messages are the subject, not the frame rate.)"""
    app = app_factory(FACEREC_CAMERA=str(clip_10fps), FACEREC_ALLOW_PRIVATE_TARGETS="1")
    try:
        for photo in sorted((data_dir / "known").iterdir()):
            if photo.stem != "lin-manuel-miranda":
                enroll(app, photo.stem, photo)
        # One message per unknown track start (no cool-down), one per hour, and known people.
        add_target(app, smtp.url("every@example.org"), "--who", "unknown", "--cameras", "main",
                   "--cooldown", "0")  # fmt: skip
        add_target(app, smtp.url("hourly@example.org"), "--who", "unknown", "--cameras", "main",
                   "--cooldown", "3600")  # fmt: skip
        add_target(app, smtp.url("known@example.org"), "--who", "known")
        bus = app.extensions["events"]
        watch(app, lambda: bus.started["unknown"] >= 3)
        starts = bus.started["unknown"]
        assert bus.started["known"] == 0
        every = smtp.wait(starts, timeout=30, to="every@example.org")
        assert len(every) == starts  # one per unknown track start, none for its updates
        hourly = smtp.to("hourly@example.org")
        assert len(hourly) == 1  # the others came within the cool-down
        assert smtp.to("known@example.org") == []
        (message,) = hourly
        assert message["Subject"] == "Unknown visitor at main"
        (attachment,) = list(message.iter_attachments())
        assert attachment.get_content_type() == "image/jpeg"
        crop = faces.load_image(attachment.get_content())  # decodes
        assert crop.shape[0] > 20 and crop.shape[1] > 20
        # The picture is the face with a margin (faces.crop). Encoded at its face (where the
        # detector finds one, else where the margin puts it: a small face turned aside may
        # escape the detector), it is nearer to an unknown visitor the camera recorded than to
        # anyone enrolled.
        box = (faces.detect(crop, upsample=2) or [face_box_in_crop(crop)])[0]
        (seen,) = faces.encode(crop, [box])
        with app.app_context():
            visitors = db.session.scalars(
                select(Sighting).where(Sighting.user_id.is_(None), Sighting.encoding.is_not(None))
            ).all()
            samples = db.session.scalars(select(FaceSample)).all()
            nearest_visitor = min(distance(seen, sighting.vector) for sighting in visitors)
            nearest_enrolled = min(distance(seen, sample.vector) for sample in samples)
        assert nearest_visitor < nearest_enrolled, (nearest_visitor, nearest_enrolled)
    finally:
        events.close(app)


def test_does_anyone_except_obama_notify_about_biden_only(app_factory, smtp, data_dir, photo_video):
    app = app_factory(FACEREC_CAMERA=str(photo_video), FACEREC_ALLOW_PRIVATE_TARGETS="1")
    try:
        enroll(app, "obama", data_dir / "known" / "obama.jpg")
        enroll(app, "biden", data_dir / "known" / "biden.jpg")
        add_target(app, smtp.url(), "--who", "anyone", "--except", "obama", "--cooldown", "0")
        bus = app.extensions["events"]
        watch(app, lambda: bus.started["known"] >= 2 and smtp.messages)
        subjects = {message["Subject"] for _at, message, _to in smtp.messages}
        assert subjects == {"biden at main"}
    finally:
        events.close(app)
