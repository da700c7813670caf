"""Search the history by face: the index, POST /api/v1/sightings/search, the pages, the audit."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pytest

from facerec.extensions import db
from facerec.models import ApiToken, AuditEntry, Sighting, iso
from facerec.search.index import SightingIndex

from .conftest import DATA, enroll
from .test_api import API, blank_png, post_form, upload
from .test_unknowns import KIT, ROSE, T0, add_sighting

SEARCH = f"{API}/sightings/search"


def similar(client, sighting_id: int, **filters):
    """Find similar: POST /api/v1/sightings/<id>/similar."""
    return client.post(f"{API}/sightings/{sighting_id}/similar", json=filters)


def history(app) -> dict[str, list[int]]:
    """Three sightings of kit, two of rose, one of obama (named), on two cameras."""
    obama = enroll(app, "obama", DATA / "known" / "obama.jpg")
    ids = {
        "kit": [add_sighting(app, p, minutes=i * 60) for i, p in enumerate(KIT)],
        "rose": [add_sighting(app, p, minutes=200 + i) for i, p in enumerate(ROSE)],
        "obama": [add_sighting(app, DATA / "unknown" / "obama2.jpg", minutes=300, user_id=obama)],
    }
    with app.app_context():
        db.session.get(Sighting, ids["kit"][2]).camera = "garden"
        db.session.commit()
    return ids


def matches(response) -> list[tuple[int, float]]:
    assert response.status_code == 200, response.get_json()
    return [(m["sighting"]["id"], m["distance"]) for m in response.get_json()["matches"]]


def searches(app) -> list[dict]:
    """The searches on the audit trail, oldest first, as GET /api/v1/audit gives them."""
    from facerec import audit

    with app.app_context():
        rows = (
            db.session.query(AuditEntry)
            .filter_by(action="sightings.searched")
            .order_by(AuditEntry.id)
            .all()
        )
        return [audit.as_dict(row) for row in rows]


# ---- the index --------------------------------------------------------------------------------


def test_does_the_index_return_rows_within_the_tolerance_nearest_first_with_filters():
    rng = np.random.default_rng(1)
    base = rng.normal(0, 0.09, 128)
    encodings = [base + d * np.eye(128)[0] for d in (0.3, 0.1, 0.5, 0.9)]
    index = SightingIndex()
    index.add([1, 2, 3, 4], encodings, [100, 200, 300, 400], ["a", "a", "b", "a"])
    hits = index.search(base, 0.6)
    assert [h.sighting_id for h in hits] == [2, 1, 3]
    assert [round(h.distance, 3) for h in hits] == [0.1, 0.3, 0.5]
    assert [h.sighting_id for h in index.search(base, 0.6, camera="b")] == [3]
    assert index.search(base, 0.6, camera="nowhere") == []
    index.forget([2])
    assert [h.sighting_id for h in index.search(base, 0.6)] == [1, 3]


# ---- the API ----------------------------------------------------------------------------------


def test_does_a_photo_find_that_persons_sightings_nearest_first_and_nobody_else(app, client):
    ids = history(app)

    found = matches(
        post_form(
            client,
            SEARCH,
            {"image": upload(DATA / "people-test" / "kit_with_rose.jpg"), "face": "0"},
        )
    )

    assert sorted(i for i, _ in found) == sorted(ids["kit"])
    distances = [d for _, d in found]
    assert distances == sorted(distances) and all(0 < d <= 0.6 for d in distances)
    body = post_form(client, SEARCH, {"image": upload(KIT[0])}).get_json()
    first = body["matches"][0]["sighting"]
    assert set(first) >= {"id", "camera", "user_id", "name", "started_at", "crop_url", "group_id"}


def test_does_a_photo_of_someone_never_seen_find_nothing(app, client):
    history(app)
    assert matches(post_form(client, SEARCH, {"image": upload(DATA / "known" / "biden.jpg")})) == []


def test_does_find_similar_return_that_sighting_first_then_the_others(app, client):
    ids = history(app)

    found = matches(similar(client, ids["kit"][1]))

    assert found[0] == (ids["kit"][1], 0.0)
    assert sorted(i for i, _ in found[1:]) == sorted(set(ids["kit"]) - {ids["kit"][1]})


def test_do_the_filters_narrow_the_results(app, client):
    ids = history(app)
    kit = ids["kit"]

    def ids_for(**filters):
        return sorted(i for i, _ in matches(similar(client, kit[0], **filters)))

    assert ids_for(camera="garden") == [kit[2]]
    ten = iso(T0 + timedelta(hours=1))
    assert ids_for(since=ten) == kit[1:]
    assert ids_for(until=ten) == kit[:2]
    assert len(ids_for(limit=1)) == 1
    assert ids_for(tolerance=0.01) == [kit[0]]
    since = T0.date().isoformat()
    assert ids_for(since=since, camera="main") == kit[:2]
    # Filters combine, like the list of sightings': "until" before "since" matches nothing.
    day = T0.date()
    assert ids_for(since=str(day + timedelta(days=2)), until=str(day + timedelta(days=1))) == []


def test_does_the_index_see_new_and_deleted_sightings(app, client):
    ids = history(app)
    assert len(matches(similar(client, ids["rose"][0]))) == 2
    later = add_sighting(app, DATA / "people-test" / "kit_with_rose.jpg", minutes=900, index=1)
    with app.app_context():
        db.session.delete(db.session.get(Sighting, ids["rose"][1]))
        db.session.commit()

    found = matches(similar(client, ids["rose"][0]))

    assert sorted(i for i, _ in found) == sorted([ids["rose"][0], later])


def test_is_every_search_recorded_with_who_and_how_many_results(app, client, anon_client):
    ids = history(app)
    token = "fr_" + "s" * 40
    with app.app_context():
        db.session.add(ApiToken(name="door", token_hash=ApiToken.hash(token), prefix=token[:8]))
        db.session.commit()
    similar(client, ids["kit"][0])
    biden = {"image": upload(DATA / "known" / "biden.jpg"), "tolerance": "0.5"}
    post_form(anon_client, SEARCH, biden, headers={"Authorization": f"Bearer {token}"})

    first, second = searches(app)

    assert (first["actor"], first["object_type"], first["object_id"]) == (
        "tester", "sighting", ids["kit"][0])  # fmt: skip
    assert (first["details"]["source"], first["details"]["results"]) == ("sighting", 3)
    assert second["actor"] == "token “door”"
    assert (second["details"]["source"], second["details"]["results"]) == ("photo", 0)
    assert "tolerance=0.5" in second["details"]["filters"]


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"image": "blank"}, 400, "No face"),
        ({"image": "two"}, 400, "choose one with the field “face”"),
        ({"image": "two", "face": "7"}, 400, "“face” must be a number from 0 to 1"),
        ({"image": b"not an image"}, 400, "not an image"),
        ({"other": "x"}, 422, "“image” is required"),
        ({"image": "kit", "tolerance": "2"}, 422, "“tolerance” must be a number from 0 to 1"),
        ({"image": "kit", "limit": "0"}, 422, "“limit” must be a number from 1 to 500"),
        ({"image": "kit", "since": "yesterday"}, 422, "“since” must be a date"),
    ],
)
def test_are_bad_photo_searches_refused_with_the_reason(app, client, fields, status, message):
    history(app)
    photos = {"blank": blank_png(), "two": (DATA / "unknown" / "two_people.jpg").read_bytes(),
              "kit": KIT[0].read_bytes()}  # fmt: skip
    sent = {k: upload(photos.get(v, v), "x.jpg") if k == "image" else v for k, v in fields.items()}
    response = post_form(client, SEARCH, sent)
    assert response.status_code == status
    assert message in response.get_json()["error"]
    assert searches(app) == []


@pytest.mark.parametrize(
    ("sighting", "body", "status"),
    [(999, {}, 404), ("kit", {"colour": "red"}, 422), ("kit", {"limit": "1"}, 422),
     ("kit", {"since": "yesterday"}, 422), ("kit", [1], 422)],
)  # fmt: skip
def test_are_bad_sighting_searches_refused(app, client, sighting, body, status):
    ids = history(app)
    sighting_id = ids["kit"][0] if sighting == "kit" else sighting
    response = client.post(f"{API}/sightings/{sighting_id}/similar", json=body)
    assert response.status_code == status and response.get_json()["error"]
    assert searches(app) == []


def test_does_find_similar_as_older_clients_send_it_to_search_still_work(app, client):
    ids = history(app)
    # The document gives the search one media type (a photo); JSON {"sighting_id"}, what
    # Find similar was before searchSimilar, is still accepted there with its filters.
    old = client.post(SEARCH, json={"sighting_id": ids["kit"][0], "tolerance": 0.55})
    new = similar(client, ids["kit"][0], tolerance=0.55)
    assert matches(old) == matches(new)
    assert matches(old)[0] == (ids["kit"][0], 0.0)
    assert [s["source"] for s in (e["details"] for e in searches(app))] == ["sighting"] * 2
    assert client.post(SEARCH, json={"sighting_id": 999}).status_code == 404
    bad = client.post(SEARCH, json={"sighting_id": ids["kit"][0], "colour": "red"})
    assert bad.status_code == 422 and list(bad.get_json()["fields"]) == ["colour"]
    document = client.get(f"{API}/openapi.json").get_json()
    search = document["paths"]["/api/v1/sightings/search"]["post"]
    assert list(search["requestBody"]["content"]) == ["multipart/form-data"]
    assert '`application/json`: `{"sighting_id": N}`' in search["description"]
    text = client.post(
        f"{API}/sightings/{ids['kit'][0]}/similar", data="x", content_type="text/plain"
    )
    assert text.status_code == 415


def test_does_choosing_a_face_of_a_group_photo_search_for_that_face(app, client):
    ids = history(app)
    photo = DATA / "people-test" / "kit_with_rose.jpg"
    rose = matches(post_form(client, SEARCH, {"image": upload(photo), "face": "1"}))
    assert sorted(i for i, _ in rose) == sorted(ids["rose"])


# ---- the pages --------------------------------------------------------------------------------


def test_does_the_page_search_with_a_photo_and_show_the_results(app, client):
    ids = history(app)
    response = post_form(client, "/history/search", {"image": upload(KIT[1])})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "3 sightings within 0.60" in page
    rows = re.findall(r'<tr data-sighting="(\d+)">', page)
    assert sorted(map(int, rows)) == sorted(ids["kit"])
    assert rows[0] == str(ids["kit"][1])  # the same photo: nearest first
    assert "Unknown" in page and "garden" in page and "Find similar" in page


def test_does_a_photo_with_several_faces_ask_which_one(app, client):
    ids = history(app)
    photo = DATA / "people-test" / "kit_with_rose.jpg"
    asked = post_form(client, "/history/search", {"image": upload(photo)}).get_data(as_text=True)
    assert "2 faces in this photo: which one?" in asked
    assert 'src="data:image/jpeg;base64,' in asked
    pick = re.search(r'name="pick" value="([^"]+)"', asked).group(1)

    chosen = client.post("/history/search", data={"pick": pick, "face": "1"})

    rows = re.findall(r'<tr data-sighting="(\d+)">', chosen.get_data(as_text=True))
    assert sorted(map(int, rows)) == sorted(ids["rose"])


def test_does_find_similar_on_the_page_start_from_a_sighting(app, client):
    ids = history(app)
    page = client.get(f"/history/search?sighting_id={ids['rose'][1]}").get_data(as_text=True)
    rows = re.findall(r'<tr data-sighting="(\d+)">', page)
    assert rows[0] == str(ids["rose"][1]) and len(rows) == 2
    assert client.get("/history/search?sighting_id=999").status_code == 404


def test_does_this_is_person_on_a_result_relabel_it(app, client):
    ids = history(app)
    kit = enroll(app, "Kit", DATA / "people-test" / "johnsnow_test1.jpg")
    response = client.post(f"/history/sightings/{ids['kit'][0]}/label", data={"user_id": kit},
                           follow_redirects=True)  # fmt: skip
    assert f"Sighting {ids['kit'][0]} is now Kit" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Sighting, ids["kit"][0]).user_id == kit


def test_are_bad_page_searches_explained(app, client):
    history(app)
    empty = post_form(client, "/history/search", {"image": upload(b"", "none.jpg")})
    blank = post_form(client, "/history/search", {"image": upload(blank_png(), "wall.png")})
    junk = post_form(client, "/history/search", {"image": upload(b"junk", "x.jpg")})
    assert empty.status_code == 400 and "Choose a photo" in empty.get_data(as_text=True)
    assert blank.status_code == 400 and "no face was found" in blank.get_data(as_text=True)
    assert junk.status_code == 400 and "not an image" in junk.get_data(as_text=True)


def test_does_the_audit_page_list_the_searches(app, client):
    ids = history(app)
    old_address = client.get("/history/searches")
    assert old_address.status_code == 301
    assert old_address.location == "/admin/audit?action=sightings.searched"
    assert "No entries match these filters." in client.get(old_address.location).get_data(
        as_text=True
    )
    client.get(f"/history/search?sighting_id={ids['kit'][0]}")
    post_form(client, "/history/search", {"image": upload(DATA / "known" / "biden.jpg")})

    page = client.get(old_address.location).get_data(as_text=True)

    assert f"sighting {ids['kit'][0]}" in page and "source: photo" in page
    assert page.count("<td>tester</td>") == 2
    assert page.count('data-action="sightings.searched"') == 2


def test_is_anonymous_access_to_search_refused(app, anon_client):
    ids = history(app)
    assert similar(anon_client, ids["kit"][0]).status_code == 401
    for url in (
        "/history/search",
        "/history/searches",
        f"/history/search?sighting_id={ids['kit'][0]}",
    ):
        response = anon_client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert anon_client.post(f"/history/sightings/{ids['kit'][0]}/label").status_code in (302, 400)
    assert searches(app) == []


def test_does_the_index_drop_pruned_sightings_from_memory(app):
    ids = history(app)
    index = SightingIndex()
    with app.app_context():
        index.refresh(db.session)
        assert len(index) == 6
        # Retention prunes the oldest sightings.
        db.session.query(Sighting).filter(Sighting.id <= ids["kit"][1]).delete()
        db.session.commit()
        index.refresh(db.session)
        assert len(index) == 4 and ids["kit"][0] not in index.ids
        # Any other deletion (a person deleted with their sightings) is seen by the recount.
        db.session.query(Sighting).filter(Sighting.id == ids["rose"][0]).delete()
        db.session.commit()
        index._counted = 0.0  # as if RECOUNT seconds had passed
        index.refresh(db.session)
        assert len(index) == 3 and ids["rose"][0] not in index.ids


def test_does_this_is_not_on_a_named_sighting_make_it_unknown_and_remember(app, client):
    alex = enroll(app, "Alex", DATA / "known" / "alex-lacamoire.png")
    row = add_sighting(app, KIT[0], user_id=alex)
    back = f"/history/search?sighting_id={row}"

    response = client.post(f"/history/sightings/{row}/label",
                           data={"not_user_id": alex, "next": back})  # fmt: skip

    assert response.status_code == 303 and response.headers["Location"].endswith(back)
    page = client.get(back).get_data(as_text=True)
    assert f"Noted: sighting {row} is not Alex." in page
    with app.app_context():
        assert db.session.get(Sighting, row).user_id is None
    refused = client.post(f"/history/sightings/{row}/label", data={"not_user_id": alex},
                          follow_redirects=True)  # fmt: skip
    assert "Not corrected: This sighting is not named Alex" in refused.get_data(as_text=True)
    outside = client.post(f"/history/sightings/{row}/label",
                          data={"user_id": alex, "next": "https://evil.example/"})  # fmt: skip
    assert outside.headers["Location"] == "/history/search"


def test_is_search_the_one_menu_link_highlighted_on_its_page(client):
    """/history/search lies under /history, but the menu marks only the nearest link."""
    current = re.compile(r'aria-current="page">\s*([^<]+?)\s*<')
    assert current.findall(client.get("/history/search").get_data(as_text=True)) == ["Search"]
    assert current.findall(client.get("/history").get_data(as_text=True)) == ["History"]


def test_does_the_page_show_the_face_say_how_many_and_page_through_all(app, client):
    ids = history(app)
    kit = sorted(ids["kit"])

    first = client.get(f"/history/search?sighting_id={kit[0]}&limit=2").get_data(as_text=True)

    assert "2 of 3 sightings within 0.60" in first
    assert f'src="/api/v1/sightings/{kit[0]}/crop.jpg" alt="The face searched with"' in first
    shown = re.findall(r'<tr data-sighting="(\d+)">', first)
    following = re.search(r'href="(/history/search\?[^"]*offset=2[^"]*)"', first).group(1)
    assert "Next 1 (3\u20133 of 3)" in first
    second = client.get(following.replace("&amp;", "&")).get_data(as_text=True)
    more = re.findall(r'<tr data-sighting="(\d+)">', second)
    assert sorted(map(int, shown + more)) == kit and "Previous 2" in second

    # From a photo: the face is shown, and the next page needs no new upload.
    photo = post_form(client, "/history/search", {"image": upload(KIT[1]), "limit": "2"})
    page = photo.get_data(as_text=True)
    assert "2 of 3 sightings within 0.60" in page
    assert re.search(r'src="data:image/jpeg;base64,[^"]+" alt="The face searched with"', page)
    pick = re.search(r'name="pick" value="([^"]+)"', page).group(1)
    turned = client.post(
        "/history/search", data={"pick": pick, "face": "0", "offset": "2", "limit": "2"}
    ).get_data(as_text=True)
    assert len(re.findall(r'<tr data-sighting="(\d+)">', turned)) == 1
    # Two searches on record, not four: turning a page is the same search.
    assert [s["details"]["results"] for s in searches(app)] == [3, 3]


def test_does_a_named_result_offer_this_is_not(app, client):
    ids = history(app)
    obama = ids["obama"][0]
    page = client.get(f"/history/search?sighting_id={obama}").get_data(as_text=True)
    assert "This is not obama" in page

    done = client.post(
        f"/history/sightings/{obama}/label",
        data={"not_user_id": sighting_user(app, obama)},
        follow_redirects=True,
    )

    assert f"sighting {obama} is not obama" in done.get_data(as_text=True)
    assert sighting_user(app, obama) is None


def sighting_user(app, sighting_id):
    with app.app_context():
        return db.session.get(Sighting, sighting_id).user_id
