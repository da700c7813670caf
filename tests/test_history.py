"""The history page, its CSV export, and a person's latest sightings."""

from __future__ import annotations

import csv
import gc
import io
import re
from datetime import timedelta

from facerec import shapes
from facerec.extensions import db
from facerec.models import Sighting

from .test_sightings import add_person, add_sighting


def row_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-sighting-id="(\d+)"', html)]


def test_can_an_anonymous_visitor_not_see_the_history(app, anon_client):
    add_sighting(app)
    for path in ("/history", "/history.csv", "/history/rows"):
        response = anon_client.get(path)
        assert response.status_code in (302, 401)
        assert b"Unknown" not in response.data


def test_does_an_empty_history_say_how_it_fills_up(client):
    page = client.get("/history")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "No sightings yet." in html
    assert 'href="/history"' in html  # in the navigation


def test_does_the_history_show_crop_name_camera_duration_and_distance_in_words(app, client):
    ada = add_person(app, "Ada <b>Lovelace</b>")
    known = add_sighting(app, user_id=ada, name="Ada <b>Lovelace</b>", camera="door")
    unknown = add_sighting(app)
    html = client.get("/history").get_data(as_text=True)
    assert row_ids(html) == [unknown, known]  # newest first
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in html and "<b>Lovelace" not in html
    assert "Unknown" in html
    assert "0.41 (match below 0.60)" in html
    assert "0.80 (no match: above 0.60)" in html
    assert "5 s" in html and ">door<" in html
    assert f"/api/v1/sightings/{known}/crop.jpg" in html
    assert client.get(f"/api/v1/sightings/{known}/crop.jpg").mimetype == "image/jpeg"


def test_is_a_distance_read_against_the_tolerance_of_the_camera_that_saw_it(app, client):
    """A camera with its own tolerance (0.45) named Ada at 0.41: the page, its refresh and
    the CSV read that against 0.45; the same distance on a camera with the server's, 0.60."""
    from facerec import camera
    from facerec.models import Camera

    with app.app_context():
        db.session.add(Camera(name="strict", source="0", enabled=False, tolerance=0.45))
        db.session.commit()
    camera.registry(app).refresh(force=True)  # the registry looks at the table once a second
    ada = add_person(app, "Ada")
    add_sighting(app, user_id=ada, name="Ada", camera="strict")
    add_sighting(app, user_id=ada, name="Ada", camera="main")

    for path in ("/history", "/history/rows"):
        html = client.get(path).get_data(as_text=True)
        assert "0.41 (match below 0.45)" in html and "0.41 (match below 0.60)" in html
    rows = list(csv.DictReader(io.StringIO(client.get("/history.csv").get_data(as_text=True))))
    assert {(r["camera"], r["match"]) for r in rows} == {
        ("strict", "match below 0.45"),
        ("main", "match below 0.60"),
    }


def test_do_the_page_filters_agree_with_the_database(app, client):
    ada, grace = add_person(app, "Ada"), add_person(app, "Grace")
    a_old = add_sighting(app, user_id=ada, name="Ada", age=timedelta(days=3))
    a_door = add_sighting(app, user_id=ada, name="Ada", camera="door")
    add_sighting(app, user_id=grace, name="Grace")
    u_main = add_sighting(app)
    u_door = add_sighting(app, camera="door", age=timedelta(days=1))

    def ids(query):
        response = client.get(f"/history?{query}")
        assert response.status_code == 200
        return row_ids(response.get_data(as_text=True))

    assert ids(f"user_id={ada}") == [a_door, a_old]
    assert ids("unknown=1") == [u_door, u_main]
    assert ids("camera=door") == [u_door, a_door]
    with app.app_context():
        day = db.session.get(Sighting, a_old).started_at.date().isoformat()
    assert ids(f"since={day}&until={day}") == [a_old]
    assert "No sightings match these filters." in client.get("/history?camera=nowhere").get_data(
        as_text=True
    )


def test_is_a_bad_filter_explained_on_the_page(client):
    response = client.get("/history?since=tomorrow")
    assert response.status_code == 422
    assert "“since” must be a date" in response.get_data(as_text=True)


def test_does_the_history_page_through_every_sighting_once(app, client):
    ids = [add_sighting(app) for _ in range(120)]
    seen, url = [], "/history"
    for _ in range(5):
        html = client.get(url).get_data(as_text=True)
        seen += row_ids(html)
        older = re.search(r'href="([^"]+)" rel="next"|rel="next" href="([^"]+)"', html)
        if not older:
            break
        url = (older.group(1) or older.group(2)).replace("&amp;", "&")
    assert seen == sorted(ids, reverse=True)
    assert len(row_ids(client.get("/history").get_data(as_text=True))) == 50


def test_does_the_csv_hold_the_filtered_history_like_the_database(app, client):
    ada = add_person(app, "=cmd|' /C calc'!A0")
    add_sighting(app, user_id=ada, name="=cmd|' /C calc'!A0")
    add_sighting(app, camera="door")
    add_sighting(app, camera="door", age=timedelta(days=2))
    response = client.get("/history.csv?camera=door")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    with app.app_context():
        expected = db.session.scalars(
            db.select(Sighting).where(Sighting.camera == "door").order_by(Sighting.id.desc())
        ).all()
        assert [int(r["id"]) for r in rows] == [s.id for s in expected]
        assert rows[0]["started_at"] == shapes.sighting(expected[0])["started_at"]
    assert all(r["camera"] == "door" and r["name"] == "" for r in rows)
    assert rows[0]["seconds"] == "5.0" and rows[0]["frames"] == "150"
    # The distance's verdict in the pages' words, beside the number.
    assert (rows[0]["distance"], rows[0]["match"]) == ("0.8", "no match: above 0.60")
    everyone = list(csv.DictReader(io.StringIO(client.get("/history.csv").get_data(as_text=True))))
    assert len(everyone) == 3
    # A name a spreadsheet would run as a formula is written as text.
    assert {r["name"] for r in everyone} == {"", "'=cmd|' /C calc'!A0"}
    assert client.get("/history.csv?user_id=x").status_code == 422


def test_does_a_history_download_cut_short_close_its_cursor(app, client):
    """A client that goes away after the first rows: the export's query (a server-side cursor
    on PostgreSQL) is closed with the response, not left to the garbage collector (which
    warns, an error here)."""
    for _ in range(3):
        add_sighting(app, camera="door")
    response = client.get("/history.csv")
    assert response.status_code == 200
    chunks = iter(response.response)
    assert next(chunks).startswith(b"id,") and b"door" in next(chunks)
    response.close()
    gc.collect()
    assert len(list(csv.DictReader(io.StringIO(client.get("/history.csv").text)))) == 3


def test_does_a_persons_page_show_their_latest_sightings(app, client):
    ada = add_person(app, "Ada")
    sid = add_sighting(app, user_id=ada, name="Ada", camera="door")
    html = client.get(f"/admin/users/{ada}").get_data(as_text=True)
    assert "Latest sightings" in html
    assert f"/api/v1/sightings/{sid}/crop.jpg" in html
    assert f"/history?user_id={ada}" in html
    grace = add_person(app, "Grace")
    assert "has not been seen by a camera yet" in client.get(f"/admin/users/{grace}").get_data(
        as_text=True
    )


def test_can_a_history_row_be_corrected_with_this_is_not_and_this_is(app, client, data_dir):
    """Each row offers "This is not <name>" and "This is <person>", and both work from there."""
    from .conftest import enroll, photo_samples

    alex = enroll(app, "Alex", data_dir / "known" / "alex-lacamoire.png")
    biden = enroll(app, "Biden", data_dir / "known" / "biden.jpg")
    kit = photo_samples(data_dir / "people" / "kit_harington" / "john1.jpeg")[0].encoding
    row = add_sighting(app, user_id=alex, name="Alex", encoding=kit.astype("<f8").tobytes())

    html = client.get("/history").get_data(as_text=True)
    assert "This is not Alex" in html
    assert f'action="/history/sightings/{row}/label"' in html
    assert f'href="/history/search?sighting_id={row}"' in html  # Find similar
    assert f'<option value="{biden}">Biden</option>' in html
    assert f'<option value="{alex}">' not in html  # it already is Alex

    response = client.post(
        f"/history/sightings/{row}/label", data={"not_user_id": alex, "next": "/history"}
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/history")
    page = client.get("/history").get_data(as_text=True)
    assert f"Noted: sighting {row} is not Alex." in page
    assert "This is not Alex" not in page  # now unknown
    with app.app_context():
        assert db.session.get(Sighting, row).user_id is None


def test_does_a_sighting_labelled_by_hand_say_so_instead_of_calling_its_distance_a_match(
    app, client, data_dir
):
    from .conftest import enroll, photo_samples

    biden = enroll(app, "Biden", data_dir / "known" / "biden.jpg")
    kit = photo_samples(data_dir / "people" / "kit_harington" / "john1.jpeg")[0].encoding
    row = add_sighting(app, encoding=kit.astype("<f8").tobytes())  # unknown, distance 0.80
    client.post(f"/history/sightings/{row}/label", data={"user_id": biden, "next": "/history"})

    html = client.get("/history").get_data(as_text=True)
    assert "0.80 (labelled by hand)" in html
    assert "match below" not in html and "no match" not in html
    rows = list(csv.DictReader(io.StringIO(client.get("/history.csv").get_data(as_text=True))))
    assert (rows[0]["name"], rows[0]["match"]) == ("Biden", "labelled by hand")
    assert client.get(f"/api/v1/sightings/{row}").get_json()["labelled_by_hand"] is True
