"""The consent record of a person: the API, the pages, the wizard, the import, the unknowns,
and FACEREC_REQUIRE_CONSENT refusing a save without a basis (and losing nothing typed)."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest

from facerec.extensions import db
from facerec.models import AuditEntry, User

from .conftest import DATA, change_settings, enroll
from .test_api import API, post_form, upload
from .test_unknowns import KIT, groups_json, visitors

REQUIRED = "A basis for holding this person's face is required (FACEREC_REQUIRE_CONSENT)"
EMPLOYMENT = {"basis": "employment", "note": "Badge 12, contract of 2026-03-01"}


def text(response) -> str:
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def in_textarea(page: str, typed: str) -> bool:
    """``typed`` is a textarea's whole content (WTForms writes a newline after the tag)."""
    return re.search(r"<textarea[^>]*>\s*" + re.escape(typed) + "</textarea>", page) is not None


def stored(app, name):
    with app.app_context():
        user = db.session.scalar(db.select(User).filter_by(name=name))
        return None if user is None else dict(user.consent or {}, id=user.id)


def people_named(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(db.select(User.name)))


def require_consent(app):
    change_settings(app, require_consent=True)


# ---- the API ------------------------------------------------------------------------------


def test_is_the_consent_record_kept_with_who_recorded_it_and_when(app, client):
    response = client.post(f"{API}/users", json={"name": "Ada", "consent": EMPLOYMENT})

    assert response.status_code == 201, response.get_json()
    record = response.get_json()["consent"]
    assert {k: record[k] for k in ("basis", "note", "recorded_by", "expires_on")} == {
        **EMPLOYMENT,
        "recorded_by": "tester",
        "expires_on": None,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["recorded_at"])
    assert record["review_due"] is False
    person_id = response.get_json()["id"]
    assert client.get(f"{API}/users/{person_id}").get_json()["consent"] == record
    # Another field changed: the record (and when it was recorded) stays as it was.
    assert (
        client.patch(f"{API}/users/{person_id}", json={"details": "x"}).get_json()["consent"]
        == record
    )
    # Sent again, the record is replaced as a whole; null clears it.
    changed = client.patch(
        f"{API}/users/{person_id}",
        json={"consent": {"basis": "consent", "expires_on": "2027-06-30"}},
    ).get_json()["consent"]
    assert (changed["basis"], changed["note"], changed["expires_on"]) == (
        "consent",
        "",
        "2027-06-30",
    )
    cleared = client.patch(f"{API}/users/{person_id}", json={"consent": None})
    assert cleared.status_code == 200 and cleared.get_json()["consent"] is None
    # Every change is on the audit trail, with what it was and what it became.
    with app.app_context():
        entries = db.session.scalars(
            db.select(AuditEntry.details).filter_by(action="person.changed").order_by(AuditEntry.id)
        ).all()
    assert '"consent_basis": ["employment", "consent"]' in entries[-2]
    assert '"consent_basis": ["consent", ""]' in entries[-1]


@pytest.mark.parametrize(
    ("consent", "field", "message"),
    [
        ({"basis": "contract"}, "consent.basis", "The basis must be one of consent, employment"),
        ({"note": "signed"}, "consent.basis", "is required"),
        ({"basis": "consent", "expires_on": "30/06/2027"}, "consent.expires_on", "YYYY-MM-DD"),
        ({"basis": "consent", "colour": "red"}, "consent.colour", "is not a field"),
    ],
)
@pytest.mark.sqlite_only  # refused before anything is stored
def test_is_a_bad_consent_record_refused_naming_its_field(app, client, consent, field, message):
    response = client.post(f"{API}/users", json={"name": "Ada", "consent": consent})

    assert response.status_code == 422
    body = response.get_json()
    assert list(body["fields"]) == [field]
    assert message in body["error"]
    assert people_named(app) == []


def test_does_a_review_date_that_has_come_flag_the_person(app, client):
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    due = {"basis": "consent", "expires_on": yesterday}
    client.post(f"{API}/users", json={"name": "Due", "consent": due})
    later = {"basis": "consent", "expires_on": (date.today() + timedelta(days=30)).isoformat()}
    client.post(f"{API}/users", json={"name": "Later", "consent": later})
    client.post(f"{API}/users", json={"name": "Never"})

    found = {u["name"]: u["consent"] for u in client.get(f"{API}/users").get_json()["users"]}
    assert found["Due"]["review_due"] is True and found["Later"]["review_due"] is False
    assert found["Never"] is None
    page = client.get("/admin/users")
    assert "1 person's consent review date has come." in text(page)
    flagged = text(client.get("/admin/users?consent=review"))
    assert "Due" in flagged and "Later" not in flagged and "Never" not in flagged
    assert "Review due" in text(client.get(f"/admin/users/{stored(app, 'Due')['id']}"))


# ---- FACEREC_REQUIRE_CONSENT: every way a person is saved -----------------------------------


def test_does_the_api_refuse_a_person_without_a_basis_when_consent_is_required(
    app, client, data_dir
):
    require_consent(app)
    refused = [
        client.post(f"{API}/users", json={"name": "Ada"}),
        client.post(f"{API}/users", json={"name": "Ada", "consent": None}),
        post_form(
            client,
            f"{API}/users/with-photos",
            {"name": "Ada", "images": [upload(data_dir / "known" / "obama.jpg")]},
        ),
        client.post(f"{API}/users", data={"name": "Ada"}),  # the older form, still accepted
    ]
    for response in refused:
        assert response.status_code == 422
        assert response.get_json()["error"].startswith(REQUIRED)
        assert list(response.get_json()["fields"]) == ["consent.basis"]
    assert people_named(app) == []
    # With a basis, as JSON and as a form.
    assert (
        client.post(f"{API}/users", json={"name": "Ada", "consent": EMPLOYMENT}).status_code == 201
    )
    form = post_form(
        client,
        f"{API}/users/with-photos",
        {
            "name": "Barack",
            "consent.basis": "consent",
            "consent.note": "Signed form",
            "images": [upload(data_dir / "known" / "obama.jpg")],
        },
    )
    assert form.status_code == 201, form.get_json()
    assert stored(app, "Barack")["note"] == "Signed form"
    # A change that would leave a person without a basis is refused too.
    ada = stored(app, "Ada")["id"]
    assert client.patch(f"{API}/users/{ada}", json={"consent": None}).status_code == 422
    assert stored(app, "Ada")["basis"] == "employment"


@pytest.mark.sqlite_only
def test_does_the_wizard_refuse_details_without_a_basis_and_keep_what_was_typed(app, client):
    require_consent(app)

    response = client.post(
        "/enroll/",
        data={"name": "Barack Obama", "details": "44th", "consent_note": "Form in the folder"},
    )

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert REQUIRED in html.unescape(page)
    assert 'value="Barack Obama"' in page and in_textarea(page, "44th")
    assert "Form in the folder</textarea>" in page
    # With a basis the wizard goes on to the samples, and the review shows the record.
    going_on = client.post(
        "/enroll/",
        data={"name": "Barack Obama", "consent_basis": "consent", "consent_note": "Form"},
    )
    assert going_on.status_code == 303 and going_on.headers["Location"].endswith("/enroll/samples")


def test_does_the_wizard_save_the_consent_record_with_the_person(app, client, data_dir):
    from .test_enroll import upload as wizard_upload

    change_settings(app, snapshots=1)
    client.post(
        "/enroll/",
        data={"name": "Barack", "consent_basis": "employment", "consent_expires": "2027-01-31"},
    )
    wizard_upload(client, data_dir / "known" / "obama.jpg")
    review = client.get("/enroll/review")
    assert "Employment · review on 2027-01-31" in text(review)

    saved = client.post("/enroll/review", data={"action": "save"})

    assert saved.status_code == 303
    record = stored(app, "Barack")
    assert (record["basis"], record["expires_on"], record["recorded_by"]) == (
        "employment",
        date(2027, 1, 31),
        "tester",
    )


def test_does_the_person_page_refuse_a_save_without_a_basis_and_keep_what_was_typed(app, client):
    person_id = enroll(app, "Ada")
    require_consent(app)

    response = client.post(
        f"/admin/users/{person_id}", data={"name": "Ada King", "details": "Countess"}
    )

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert REQUIRED in html.unescape(page)
    assert 'value="Ada King"' in page and in_textarea(page, "Countess")
    assert people_named(app) == ["Ada"]
    saved = client.post(
        f"/admin/users/{person_id}",
        data={"name": "Ada", "consent_basis": "other", "consent_note": "Legitimate interest"},
    )
    assert saved.status_code == 302
    page = text(client.get(f"/admin/users/{person_id}"))
    assert "Recorded" in page and "by tester" in page
    assert stored(app, "Ada")["note"] == "Legitimate interest"


def test_does_enrolling_an_unknown_visitor_need_a_basis_when_consent_is_required(app, client):
    visitors(app)
    kit = max(groups_json(client), key=lambda g: g["sightings"])
    require_consent(app)

    api = client.post(f"{API}/unknowns/{kit['id']}/enroll", json={"name": "Kit"})
    assert api.status_code == 422 and api.get_json()["error"].startswith(REQUIRED)
    page = client.post(
        f"/unknowns/{kit['id']}/enroll",
        data={"name": "Kit Harington", "details": "Actor", "consent_note": "Asked at the door"},
    )
    assert page.status_code == 422
    shown = page.get_data(as_text=True)
    assert REQUIRED in html.unescape(shown)
    # What was typed is in the visitor's form again.
    assert 'value="Kit Harington"' in shown and "Asked at the door</textarea>" in shown
    assert people_named(app) == []
    assert len(groups_json(client)) == 2  # the visitor is still waiting

    done = client.post(
        f"/unknowns/{kit['id']}/enroll",
        data={"name": "Kit Harington", "consent_basis": "consent", "consent_note": "Asked"},
    )
    assert done.status_code == 303
    assert stored(app, "Kit Harington")["basis"] == "consent"


def test_does_the_import_need_consent_when_required_and_record_it(app, runner, tmp_path):
    folder = tmp_path / "staff"
    folder.mkdir()
    (folder / "kit.jpg").write_bytes(KIT[0].read_bytes())
    (folder / "obama.jpg").write_bytes((DATA / "known" / "obama.jpg").read_bytes())
    require_consent(app)

    refused = runner.invoke(args=["users", "import", str(folder), "--jobs", "1"])

    assert refused.exit_code == 2
    assert "--consent: " + REQUIRED in refused.output
    assert people_named(app) == []
    bad = runner.invoke(
        args=["users", "import", str(folder), "--consent", "other", "--consent-review", "31/12"]
    )
    assert bad.exit_code == 2 and "--consent-review: The review date must be" in bad.output

    done = runner.invoke(
        args=["users", "import", str(folder), "--jobs", "1", "--consent", "employment",
              "--consent-note", "Staff photos", "--consent-review", "2027-12-31"]
    )  # fmt: skip

    assert done.exit_code == 0, done.output
    assert people_named(app) == ["kit", "obama"]
    record = stored(app, "kit")
    assert (record["basis"], record["note"], record["expires_on"]) == (
        "employment",
        "Staff photos",
        date(2027, 12, 31),
    )
    assert record["recorded_by"].startswith("command line")
