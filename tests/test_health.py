"""The recognition health page: people with too few or too alike samples, look-alike pairs,
cameras whose faces cannot be used and why, each with the action that fixes it."""

from __future__ import annotations

import re

from facerec import unknowns
from facerec.extensions import db
from facerec.models import Sighting

from .conftest import DATA, enroll
from .test_unknowns import KIT, add_sighting


def test_does_the_health_page_name_each_problem_and_its_fix(app, client):
    enroll(app, "Obama", DATA / "known" / "obama.jpg")
    enroll(app, "Barack", DATA / "unknown" / "obama2.jpg")  # the same face: a look-alike pair
    enroll(app, "Kit", *KIT)
    door = add_sighting(app, KIT[0])
    tiny = add_sighting(app, KIT[1], minutes=5)
    with app.app_context():
        unknowns.placer(app).look_again()  # the headroom, as the thread works it out
        for sighting_id, height, camera in ((door, 120, "door"), (tiny, 24, "garden")):
            row = db.session.get(Sighting, sighting_id)
            row.camera, row.face_height, row.sharpness, row.turn = camera, height, 90.0, 0.1
        db.session.commit()

    page = client.get("/admin/health").get_data(as_text=True)

    few = page.split('id="few-samples"', 1)[1].split("</section>", 1)[0]
    assert "Obama</a>: 1 sample" in few and "Barack</a>: 1 sample" in few and "Kit<" not in few
    pairs = page.split('id="look-alikes"', 1)[1].split("</section>", 1)[0]
    assert re.search(r"Obama</a> and <a [^>]+>Barack</a>|Barack</a> and <a [^>]+>Obama</a>", pairs)
    assert "The threshold does not keep them apart" in pairs
    garden = page.split('data-camera="garden"', 1)[1].split("</tr>", 1)[0]
    assert "Faces are too small: move the camera closer" in garden
    door_row = page.split('data-camera="door"', 1)[1].split("</tr>", 1)[0]
    assert "Most faces are usable." in door_row


def test_is_the_health_page_for_admins_only(app, client):
    from .conftest import create_account, login_client

    create_account(app, "op", role="operator")
    operator = login_client(app, app.test_client(), "op")
    assert operator.get("/admin/health").status_code == 403
    assert client.get("/admin/health").status_code == 200
