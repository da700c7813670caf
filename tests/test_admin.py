"""The admin pages: the people table, a person's page, editing, samples, deleting."""

import html
import io
import re

import pytest
from sqlalchemy import func, select

from facerec.engine import EngineBusy, EngineUnavailable
from facerec.extensions import db
from facerec.models import FaceSample, User

from .conftest import enroll, login_client

XSS = "<script>alert(1)</script>"

# On SQLite alone (see conftest.py) but for the tests marked both_databases: the pages are
# the same on both; search, sorting, paging, case, escaping and deletes are queries.
pytestmark = pytest.mark.sqlite_only


def text(response) -> str:
    return response.get_data(as_text=True)


def table_names(response) -> list[str]:
    return [
        html.unescape(n) for n in re.findall(r'class="person-link"[^>]*>([^<]*)<', text(response))
    ]


def add_people(app, names, samples=None):
    """People without photos (for table tests); ``samples`` copies that sample's rows."""
    with app.app_context():
        template = db.session.get(FaceSample, samples) if samples else None
        ids = []
        for i, name in enumerate(names):
            user = User(name=name, details=f"details of {name}")
            for _ in range(i % 3 if template else 0):
                user.samples.append(
                    FaceSample(encoding=template.encoding, thumbnail=template.thumbnail)
                )
            db.session.add(user)
            db.session.flush()
            ids.append(user.id)
        db.session.commit()
        return ids


def recognise(client, photo):
    """Names (None when unknown) that /api/v1/recognize gives for the faces of ``photo``."""
    with open(photo, "rb") as fh:
        response = client.post("/api/v1/recognize", data={"image": (fh, photo.name)})
    assert response.status_code == 200, response.get_data(as_text=True)
    return [face["name"] for face in response.get_json()["faces"]]


def sample_count(app, user_id):
    with app.app_context():
        return db.session.scalar(select(func.count(FaceSample.id)).filter_by(user_id=user_id))


# ---- the table of people ------------------------------------------------------------------


def test_does_an_empty_table_say_so_and_point_to_the_wizard(client, app):
    page = client.get("/admin/users")
    assert page.status_code == 200
    assert "No people enrolled yet" in text(page)
    if "enroll.index" in app.view_functions:
        assert 'href="/enroll/"' in text(page)


@pytest.mark.both_databases
def test_does_the_table_show_thumbnail_name_details_samples_and_times(client, app, data_dir):
    uid = enroll(
        app, "obama", data_dir / "people/obama/obama.jpg", data_dir / "people/obama/obama2.jpg"
    )
    page = text(client.get("/admin/users"))
    assert table_names(client.get("/admin/users")) == ["obama"]
    with app.app_context():
        user = db.session.get(User, uid)
        first = user.samples[0].id
        created = f"{user.created_at:%Y-%m-%d %H:%M}"
    assert f'src="/admin/samples/{first}/thumbnail.jpg"' in page
    assert f'href="/admin/users/{uid}"' in page
    assert "<td>2</td>" in page  # samples
    assert created in page
    thumb = client.get(f"/admin/samples/{first}/thumbnail.jpg")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert thumb.data[:2] == b"\xff\xd8"
    assert client.get("/admin/samples/999999/thumbnail.jpg").status_code == 404


@pytest.mark.both_databases
def test_does_search_find_names_whatever_their_case(client, app):
    add_people(app, ["Ann Lee", "Joanna Hart", "Bob Stone", "100% Real"])
    assert table_names(client.get("/admin/users?q=ANN")) == ["Ann Lee", "Joanna Hart"]
    assert table_names(client.get("/admin/users?q=stone")) == ["Bob Stone"]
    assert table_names(client.get("/admin/users?q=%25")) == ["100% Real"]  # % is literal
    nobody = client.get("/admin/users?q=zed")
    assert table_names(nobody) == [] and "Nobody matches “zed”" in text(nobody)


@pytest.mark.both_databases
def test_does_sorting_order_the_table(client, app, data_dir):
    sample_owner = enroll(app, "carl", data_dir / "known/obama.jpg")
    with app.app_context():
        first_sample = db.session.get(User, sample_owner).samples[0].id
    add_people(app, ["dora", "abe", "bea"], samples=first_sample)  # 0, 1, 2 samples
    assert table_names(client.get("/admin/users")) == ["abe", "bea", "carl", "dora"]
    assert table_names(client.get("/admin/users?sort=name&dir=desc")) == [
        "dora",
        "carl",
        "bea",
        "abe",
    ]
    assert table_names(client.get("/admin/users?sort=samples&dir=desc"))[0] == "bea"
    assert table_names(client.get("/admin/users?sort=samples"))[0] == "dora"
    assert table_names(client.get("/admin/users?sort=created"))[0] == "carl"
    assert table_names(client.get("/admin/users?sort=created&dir=desc"))[0] == "bea"
    # Unknown sort keys fall back to the name.
    assert table_names(client.get("/admin/users?sort=drop+table"))[0] == "abe"


@pytest.mark.both_databases
def test_does_the_table_show_fifty_people_a_page(client, app):
    add_people(app, [f"person {i:03d}" for i in range(120)])
    first = client.get("/admin/users")
    assert len(table_names(first)) == 50
    assert "Page 1 of 3" in text(first)
    last = client.get("/admin/users?page=3")
    assert table_names(last) == [f"person {i:03d}" for i in range(100, 120)]
    assert client.get("/admin/users?page=99").status_code == 200  # clamped to the last page
    assert table_names(client.get("/admin/users?page=99"))[-1] == "person 119"


# ---- editing ------------------------------------------------------------------------------


def test_does_a_new_name_come_back_from_recognition_and_deleting_makes_them_unknown(
    client, app, data_dir, enroll_known
):
    ids = enroll_known(app)
    photo = data_dir / "unknown/obama2.jpg"
    assert recognise(client, photo) == ["obama"]

    saved = client.post(
        f"/admin/users/{ids['obama']}", data={"name": "Barack Obama", "details": "44th"}
    )
    assert saved.status_code == 302
    page = client.get(saved.location)
    assert "Renamed “obama” to “Barack Obama”" in text(page)
    assert recognise(client, photo) == ["Barack Obama"]

    confirm = client.get(f"/admin/users/{ids['obama']}/delete")
    assert confirm.status_code == 200 and "Delete Barack Obama?" in text(confirm)
    assert sample_count(app, ids["obama"]) == 1  # a GET deletes nothing
    deleted = client.post(f"/admin/users/{ids['obama']}/delete", follow_redirects=True)
    assert "Deleted Barack Obama" in text(deleted)
    assert recognise(client, photo) == [None]
    with app.app_context():
        assert db.session.get(User, ids["obama"]) is None
        assert sample_count(app, ids["obama"]) == 0
        assert db.session.scalar(select(func.count(User.id))) == 3
    assert client.get(f"/admin/users/{ids['obama']}").status_code == 404


@pytest.mark.parametrize(
    ("name", "details", "message"),
    [
        ("   ", "", "A name is required."),
        ("x" * 101, "", "The name is too long"),
        ("BIDEN", "", "A person named “biden” already exists."),
        ("obama", "d" * 2001, "The details are too long"),
    ],
)
def test_does_editing_apply_the_enrollment_rules(client, app, data_dir, name, details, message):
    obama = enroll(app, "obama", data_dir / "known/obama.jpg")
    enroll(app, "biden", data_dir / "known/biden.jpg")
    response = client.post(f"/admin/users/{obama}", data={"name": name, "details": details})
    assert response.status_code == 400
    assert html.escape(message, quote=False) in text(response)
    with app.app_context():
        user = db.session.get(User, obama)
        assert (user.name, user.details) == ("obama", "")


@pytest.mark.both_databases
def test_does_editing_keep_a_name_that_only_changes_case(client, app, data_dir):
    obama = enroll(app, "obama", data_dir / "known/obama.jpg")
    response = client.post(f"/admin/users/{obama}", data={"name": " Obama ", "details": "x"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(User, obama).name == "Obama"


# ---- samples ------------------------------------------------------------------------------


@pytest.mark.both_databases
def test_can_one_sample_be_deleted_but_not_the_last(client, app, data_dir):
    uid = enroll(
        app, "obama", data_dir / "people/obama/obama.jpg", data_dir / "people/obama/obama2.jpg"
    )
    with app.app_context():
        first, second = (s.id for s in db.session.get(User, uid).samples)
    page = text(client.get(f"/admin/users/{uid}"))
    assert f"/admin/samples/{first}/delete" in page and f"/admin/samples/{second}/delete" in page

    done = client.post(f"/admin/samples/{first}/delete", follow_redirects=True)
    assert "Deleted a sample of obama." in text(done)
    assert sample_count(app, uid) == 1
    refused = client.post(f"/admin/samples/{second}/delete", follow_redirects=True)
    assert "This is the only sample of obama" in text(refused)
    assert sample_count(app, uid) == 1
    assert client.post(f"/admin/samples/{first}/delete").status_code == 404


def test_does_an_upload_add_a_sample_with_the_enrollment_checks(client, app, data_dir):
    obama = enroll(app, "obama", data_dir / "known/obama.jpg")
    enroll(app, "biden", data_dir / "known/biden.jpg")

    def upload(*paths):
        files = [(io.BytesIO(p.read_bytes()), p.name) for p in paths]
        response = client.post(
            f"/admin/users/{obama}/samples", data={"photos": files}, follow_redirects=True
        )
        return text(response)

    page = upload(data_dir / "people/obama/obama2.jpg")
    assert "Added 1 sample to obama." in page
    assert sample_count(app, obama) == 2

    page = upload(
        data_dir / "people/obama/obama2.jpg",  # the same file again
        data_dir / "known/obama.jpg",  # the face already stored
        data_dir / "unknown/two_people.jpg",
        data_dir / "known/biden.jpg",
        data_dir / "README.md",
    )
    assert "obama2.jpg: This photo is already one of obama&#39;s samples." in page
    assert "obama.jpg: This face is almost identical to a sample obama already has" in page
    assert "two_people.jpg: 2 faces were found." in page
    assert "biden.jpg: This face looks like biden" in page
    assert "README.md: " in page
    assert "Added" not in page
    assert sample_count(app, obama) == 2


def test_does_an_upload_without_a_file_say_so(client, app, data_dir):
    obama = enroll(app, "obama", data_dir / "known/obama.jpg")
    page = client.post(f"/admin/users/{obama}/samples", data={}, follow_redirects=True)
    assert "Choose one or more photos to upload first." in text(page)


def test_does_a_snapshot_without_a_running_camera_say_so(client, app, data_dir):
    obama = enroll(app, "obama", data_dir / "known/obama.jpg")
    page = client.get(f"/admin/users/{obama}")
    assert "The camera is not running" in text(page)
    done = client.post(f"/admin/users/{obama}/snapshot", follow_redirects=True)
    assert "The camera is not running. Start it on the live page" in text(done)
    assert sample_count(app, obama) == 1


@pytest.mark.parametrize(
    ("failure", "retry_after"),
    [(EngineUnavailable("no answer within 120 s"), "5"), (EngineBusy(7), "7")],
)
def test_does_an_upload_while_the_face_engine_is_down_say_so_with_503(
    client, app, data_dir, monkeypatch, failure, retry_after
):
    from facerec import engine

    obama = enroll(app, "obama", data_dir / "known/obama.jpg")

    def down(app, data, **checks):
        raise failure

    monkeypatch.setattr(engine, "sample_from_image", down)
    photo = (data_dir / "unknown/obama2.jpg").read_bytes()
    page = client.post(
        f"/admin/users/{obama}/samples", data={"photos": (io.BytesIO(photo), "o.jpg")}
    )
    assert page.status_code == 503
    assert page.headers["Retry-After"] == retry_after
    assert "The face engine is busy or restarting; try again." in text(page)
    assert sample_count(app, obama) == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/admin/users/{id}"),
        ("post", "/admin/users/{id}"),
        ("get", "/admin/users/{id}/delete"),
        ("post", "/admin/users/{id}/delete"),
        ("post", "/admin/users/{id}/samples"),
        ("post", "/admin/users/{id}/snapshot"),
        ("get", "/admin/samples/{id}/thumbnail.jpg"),
        ("post", "/admin/samples/{id}/delete"),
        ("post", "/admin/tokens/{id}/revoke"),
        ("get", "/enroll/done/{id}"),
    ],
)
def test_is_an_id_beyond_the_database_range_a_404_page_rather_than_a_server_error(
    client, method, path
):
    # SQLite integers stop at 2**63 - 1; a bigger id in a hand-edited address exists nowhere.
    response = getattr(client, method)(path.format(id=2**64))
    assert response.status_code == 404
    assert "404" in text(response)


# ---- escaping -----------------------------------------------------------------------------


@pytest.mark.both_databases
def test_is_a_script_name_shown_as_text_on_every_page(app, data_dir):
    uid = enroll(
        app, XSS, data_dir / "people/obama/obama.jpg", data_dir / "people/obama/obama2.jpg"
    )
    with app.app_context():
        user = db.session.get(User, uid)
        user.details = '<img src=x onerror="alert(2)">'
        db.session.commit()
        sample_id = user.samples[0].id
    client = login_client(app, app.test_client())
    escaped = html.escape(XSS, quote=False)

    pages = {}
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("static", "stream.stream"):
            continue
        args = {"user_id": uid, "sample_id": sample_id, "token_id": 1}
        url = rule.build({a: args.get(a, 1) for a in rule.arguments}, append_unknown=False)[1]
        response = client.get(url)
        if response.mimetype == "text/html":
            pages[url] = text(response)
        response.close()
    # Pages that render after a change, with the name in flashed messages.
    client.post(f"/admin/users/{uid}", data={"name": XSS + " ", "details": "x"})
    pages["after edit"] = text(client.get(f"/admin/users/{uid}"))
    client.post(f"/admin/samples/{sample_id}/delete")
    pages["after sample delete"] = text(client.get(f"/admin/users/{uid}"))
    pages["search"] = text(client.get("/admin/users?q=" + XSS))
    pages["delete confirmation"] = text(client.get(f"/admin/users/{uid}/delete"))
    client.post(f"/admin/users/{uid}/delete")
    pages["after delete"] = text(client.get("/admin/users"))

    for where, body in pages.items():
        assert XSS not in body, where
        assert "<img src=x" not in body, where
    for where in (
        "/admin/users",
        f"/admin/users/{uid}",
        "search",
        "delete confirmation",
        "after edit",
        "after sample delete",
        "after delete",
    ):
        assert escaped in pages[where], where


# ---- the live stream follows every change -------------------------------------------------


def test_does_the_live_stream_follow_a_rename_and_a_delete(clip_app, data_dir):
    import time

    from .servers import wait_for

    cam = clip_app.extensions["cameras"].first()
    uid = enroll(clip_app, "lin", data_dir / "known/lin-manuel-miranda.png")
    client = login_client(clip_app, clip_app.test_client())
    cam.start()

    def names():
        return {f.name for f in cam.status()["faces"]}

    assert wait_for(lambda: "lin" in names(), timeout=60)
    started = time.monotonic()
    client.post(f"/admin/users/{uid}", data={"name": "Lin-Manuel Miranda", "details": ""})
    assert wait_for(lambda: "Lin-Manuel Miranda" in names(), timeout=20)
    renamed_after = time.monotonic() - started

    started = time.monotonic()
    assert client.post(f"/admin/users/{uid}/delete").status_code == 302
    # The face is still in view, now unknown: a detected face with no name.
    assert wait_for(lambda: names() == {None}, timeout=20)
    deleted_after = time.monotonic() - started
    print(
        f"\nlive stream: rename shown after {renamed_after:.2f}s, delete after {deleted_after:.2f}s"
    )
    assert cam.feed.restarts == 0


def test_does_an_oversized_upload_get_a_page_that_names_the_limit(app_factory, data_dir):
    app = app_factory(MAX_CONTENT_LENGTH=64 * 1024)
    client = login_client(app, app.test_client())
    uid = enroll(app, "Barack Obama", data_dir / "known" / "obama.jpg")
    photo = (data_dir / "known" / "obama.jpg").read_bytes()  # 280 KB
    response = client.post(
        f"/admin/users/{uid}/samples",
        data={"photos": (io.BytesIO(photo), "obama.jpg")},
        content_type="multipart/form-data",
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "larger than the limit of 64 KB" in page and "Nothing was saved" in page
    with app.app_context():
        assert len(db.session.get(User, uid).samples) == 1


@pytest.mark.both_databases
def test_is_a_name_taken_by_someone_else_meanwhile_refused_without_a_500(app, client, monkeypatch):
    from facerec import people

    ada = enroll(app, "Ada")
    enroll(app, "Grace")
    # The other operator's rename lands between this request's checks and its commit.
    monkeypatch.setattr(people, "check_name_free", lambda *args, **kwargs: None)
    response = client.post(f"/admin/users/{ada}", data={"name": "grace", "details": "x"})
    assert response.status_code == 409
    page = html.unescape(response.get_data(as_text=True))
    assert "A person named “grace” already exists." in page
    with app.app_context():
        assert sorted(db.session.scalars(select(User.name))) == ["Ada", "Grace"]
