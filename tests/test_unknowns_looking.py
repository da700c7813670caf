"""Looking at the unknown visitors again after the gallery changed: a visitor whose faces match
someone enrolled since is offered as "Looks like X" at the top of /unknowns and in the API (or
named after them at once with FACEREC_AUTO_ASSIGN), and never offered as a new person."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import cv2
import numpy as np
import pytest

from facerec import faces
from facerec.extensions import db
from facerec.models import AuditEntry, FaceSample, Sighting, UnknownGroup
from facerec.people import PersonFields

from .conftest import CLIP, DATA, enroll
from .test_api import API, post_form, upload
from .test_unknowns import KIT, ROSE, T0, add_sighting, place
from .test_unknowns_placing import wait_until

LIN = DATA / "known" / "lin-manuel-miranda.png"
# Frames of the clip where Lin is close to the camera (82-210, see the test data's README).
LIN_FRAMES = (95, 140, 185)


def clip_sightings(app) -> list[int]:
    """Lin as the camera saw him in the clip, before anyone was enrolled: one unknown sighting
    per chosen frame, detected, encoded and measured as the recognition worker does."""
    video = cv2.VideoCapture(str(CLIP))
    ids = []
    try:
        for minutes, index in enumerate(LIN_FRAMES):
            video.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, bgr = video.read()
            assert ok, f"frame {index} of the clip"
            rgb = np.ascontiguousarray(bgr[:, :, ::-1])
            (face, *_) = faces.analyze(rgb)
            with app.app_context():
                row = Sighting(
                    camera="main",
                    started_at=T0 + timedelta(minutes=minutes * 30),
                    ended_at=T0 + timedelta(minutes=minutes * 30, seconds=8),
                    frames=12,
                    crop=faces.crop(rgb, face.box),
                )
                row.vector = face.encoding
                row.quality = face.quality
                db.session.add(row)
                db.session.commit()
                ids.append(row.id)
    finally:
        video.release()
    return ids


def listed(client) -> list[dict]:
    response = client.get(f"{API}/unknowns")
    assert response.status_code == 200
    return response.get_json()["groups"]


def enroll_by_api(client, name, photo) -> int:
    response = post_form(
        client, f"{API}/users/with-photos", {"name": name, "images": upload(photo)}
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"]


def test_is_lin_from_the_clip_offered_as_looks_like_him_once_he_is_enrolled(app, client):
    lin_ids = clip_sightings(app)
    rose = add_sighting(app, ROSE[0], minutes=200)
    place(app)
    read = sighting_of(app)
    # The clip may put him in more than one group (close-ups at different angles).
    lin_groups = {read(i).group_id for i in lin_ids}
    rose_group = read(rose).group_id
    assert None not in lin_groups and rose_group not in lin_groups
    assert all(g["looks_like"] is None for g in listed(client))

    lin = enroll_by_api(client, "lin-manuel-miranda", LIN)

    # The unknowns thread looks again after the commit that enrolled him (a generous deadline:
    # the machine may be busy; it takes well under a second on an idle one).
    def offered():
        return {g["id"] for g in listed(client) if g["looks_like"]}

    assert wait_until(lambda: offered() == lin_groups, timeout=30)
    groups = listed(client)
    # At the top, though Rose was seen later.
    assert [g["id"] for g in groups][-1] == rose_group
    for group in groups[:-1]:
        assert group["looks_like"]["user_id"] == lin
        assert group["looks_like"]["name"] == "lin-manuel-miranda"
        assert group["looks_like"]["distance"] < 0.6
    assert groups[-1]["looks_like"] is None
    assert all(read(i).user_id is None for i in lin_ids)  # offered, not decided

    page = client.get("/unknowns").get_data(as_text=True)
    for group_id in lin_groups:
        card = page.split(f'id="group-{group_id}"', 1)[1].split("<section", 1)[0]
        assert "Looks like lin-manuel-miranda" in card
        assert "Yes, this is lin-manuel-miranda" in card
        assert "Enrol as new person" not in card and 'name="name"' not in card
    rose_card = page.split(f'id="group-{rose_group}"', 1)[1].split("<section", 1)[0]
    assert "Looks like" not in rose_card and "Enrol as new person" in rose_card

    # One click a group: it is his (with samples, as any assign), and leaves the page.
    for group_id in lin_groups:
        done = client.post(
            f"/unknowns/{group_id}/assign", data={"user_id": lin}, follow_redirects=True
        )
        assert done.status_code == 200
    assert [g["id"] for g in listed(client)] == [rose_group]
    assert all(read(i).user_id == lin for i in lin_ids)


def sighting_of(app):
    def read(sighting_id) -> Sighting:
        with app.app_context():
            row = db.session.get(Sighting, sighting_id)
            db.session.expunge(row)
            return row

    return read


@pytest.fixture
def auto_app(app_factory):
    return app_factory(FACEREC_AUTO_ASSIGN=True)


def test_is_a_visitor_that_is_plainly_someone_named_after_them_automatically(auto_app):
    from .conftest import login_client

    client = login_client(auto_app, auto_app.test_client())
    kit_ids = [add_sighting(auto_app, photo, minutes=i) for i, photo in enumerate(KIT[:2])]
    rose = add_sighting(auto_app, ROSE[0], minutes=10)
    place(auto_app)
    with auto_app.app_context():
        (kit_group,) = {s.group_id for s in map(sighting_of(auto_app), kit_ids)}

    kit = enroll_by_api(client, "Kit", KIT[2])

    assert wait_until(lambda: sighting_of(auto_app)(kit_ids[0]).user_id == kit, timeout=30)
    read = sighting_of(auto_app)
    assert [(read(i).user_id, read(i).name) for i in kit_ids] == [(kit, "Kit")] * 2
    assert read(rose).user_id is None
    assert [g["sightings"] for g in listed(client)] == [1]  # Rose's alone
    with auto_app.app_context():
        group = db.session.get(UnknownGroup, kit_group)
        assert group.user_id == kit and group.resolved_at is not None
        # A machine's guess never teaches the machine: his one sample is the photo enrolled.
        assert db.session.query(FaceSample).filter_by(user_id=kit).count() == 1
        (entry,) = db.session.query(AuditEntry).filter_by(action="unknown.assigned").all()
        assert entry.actor == "facerec (automatically)" and entry.object_id == kit_group
        assert json.loads(entry.details)["automatically"] is True


def test_is_a_recognisable_sighting_never_grouped_named_once_someone_is_enrolled(auto_app):
    """A sighting the gallery names by the time it is placed (someone enrolled while it was in
    view) is not left "Unknown" in the history."""
    from .conftest import login_client

    client = login_client(auto_app, auto_app.test_client())
    obama = enroll(auto_app, "obama", DATA / "known" / "obama.jpg")
    seen = add_sighting(auto_app, DATA / "unknown" / "obama2.jpg")
    place(auto_app)

    row = sighting_of(auto_app)(seen)
    assert (row.user_id, row.name, row.group_id) == (obama, "obama", None)
    history = client.get(f"{API}/sightings/{seen}").get_json()
    assert history["name"] == "obama"


def test_does_enrolling_a_look_alike_on_the_page_warn_at_the_top_and_beside_the_button(app, client):
    """The page is reloaded at the top: the warning is there, with a link to the visitor,
    and again next to the visitor's button (where the page scrolls to)."""
    add_sighting(app, KIT[0])
    place(app)
    (group,) = listed(client)
    enroll(app, "Jon Snow", KIT[2])

    response = client.post(f"/unknowns/{group['id']}/enroll", data={"name": "Kit"})

    assert response.status_code == 409
    page = response.get_data(as_text=True)
    top = page.split('id="group-', 1)[0]
    assert "Nobody was enrolled yet: Kit looks like Jon Snow." in top
    assert f'href="#group-{group["id"]}"' in top
    card = page.split(f'id="group-{group["id"]}"', 1)[1]
    assert "data-scroll-here" in card and "Kit looks like Jon Snow" in card


def test_does_save_anyway_on_the_page_keep_every_field_typed(app, client):
    """The look-alike question's "Save anyway" re-sends what was typed: the person it
    enrols has the details and the consent record, not just the name."""
    add_sighting(app, KIT[0])
    place(app)
    (group,) = listed(client)
    enroll(app, "Jon Snow", KIT[2])
    typed = {
        "name": "Kit",
        "details": "Night shift",
        "consent_basis": "employment",
        "consent_note": "HR file 12",
        "consent_expires": "2031-01-31",
    }
    asked = client.post(f"/unknowns/{group['id']}/enroll", data=typed)
    assert asked.status_code == 409
    page = asked.get_data(as_text=True)
    form = page.split("Save anyway as Kit", 1)[0].rsplit("<form", 1)[1]
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))
    assert set(PersonFields.names()) <= hidden.keys()  # a field added later is carried too

    saved = client.post(f"/unknowns/{group['id']}/enroll", data=hidden)

    assert saved.status_code == 303
    (kit,) = [u for u in client.get(f"{API}/users?q=kit").get_json()["users"]]
    assert (kit["name"], kit["details"]) == ("Kit", "Night shift")
    consent = kit["consent"]
    assert (consent["basis"], consent["note"], consent["expires_on"]) == (
        "employment",
        "HR file 12",
        "2031-01-31",
    )
