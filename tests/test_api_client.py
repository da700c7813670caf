"""A client generated from the live OpenAPI document, used as it comes out of the generator.

openapi-python-client (pinned in requirements.txt) reads /api/v1/openapi.json from the running
server's URL, without a token (FACEREC_OPENAPI_PUBLIC), writes a package; the test imports it
and does what a user of such a client does first: recognise a photo, create and delete a
person, download a sighting's crop.
"""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

import cv2
import numpy as np
import pytest

from facerec.extensions import db
from facerec.models import ApiToken, User
from tests.conftest import enroll
from tests.test_sightings import add_sighting

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
TOKEN = "fr_generated_client_" + "c" * 32
PACKAGE = "facerec_generated_client"

pytestmark = pytest.mark.sqlite_only  # the contract does not change with the database


def generate(url: str, where: Path):
    """The client package for the document at ``url`` in ``where``; returns its module."""
    result = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--url",
            f"{url}/api/v1/openapi.json",
            "--meta",
            "none",
            "--output-path",
            str(where / PACKAGE),
        ],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        # The generator formats its output with ruff when it finds it on PATH.
        env={"PATH": f"{GENERATOR.parent}:/usr/bin:/bin", "HOME": str(where)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Every operation came through: nothing was skipped with a warning.
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(where))
    try:
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))


@pytest.fixture
def generated(app_factory, serve, tmp_path, data_dir):
    app = app_factory()
    with app.app_context():
        db.session.add(ApiToken(name="client", token_hash=ApiToken.hash(TOKEN), prefix=TOKEN[:8]))
        db.session.commit()
    obama = enroll(app, "Barack Obama", data_dir / "known" / "obama.jpg")
    sighting = add_sighting(app)
    server = serve(app)
    package = generate(server.url, tmp_path)
    yield app, server, package, {"obama": obama, "sighting": sighting}
    for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
        del sys.modules[name]


def operation(package, tag: str, name: str):
    return importlib.import_module(f"{package.__name__}.api.{tag}.{name}")


def test_can_a_generated_client_recognise_create_delete_and_download_a_crop(generated, data_dir):
    app, server, package, ids = generated
    types = importlib.import_module(f"{package.__name__}.types")
    models = importlib.import_module(f"{package.__name__}.models")
    client = package.AuthenticatedClient(base_url=server.url, token=TOKEN)

    # Recognise a photo (multipart upload).
    photo = (data_dir / "unknown" / "obama3.jpg").read_bytes()
    body = models.RecognizeForm(image=types.File(payload=io.BytesIO(photo), file_name="o.jpg"))
    found = operation(package, "recognition", "recognize").sync(client=client, body=body)
    assert [(face.name, face.user_id) for face in found.faces] == [("Barack Obama", ids["obama"])]
    assert found.faces[0].distance < 0.6

    # Create a person (JSON), then delete them.
    created = operation(package, "people", "create_user").sync_detailed(
        client=client, body=models.UserCreate(name="Ada Lovelace", details="Visitor")
    )
    assert created.status_code == HTTPStatus.CREATED
    person = created.parsed
    assert (person.name, person.details, person.samples) == ("Ada Lovelace", "Visitor", [])
    assert created.headers["Location"] == f"/api/v1/users/{person.id}"
    deleted = operation(package, "people", "delete_user").sync_detailed(person.id, client=client)
    assert deleted.status_code == HTTPStatus.NO_CONTENT
    with app.app_context():
        assert db.session.get(User, person.id) is None

    # Download a sighting's crop: bytes of a JPEG that decodes.
    crop = operation(package, "sightings", "get_sighting_crop").sync(ids["sighting"], client=client)
    picture = cv2.imdecode(np.frombuffer(crop.payload.read(), np.uint8), cv2.IMREAD_COLOR)
    assert picture is not None and picture.shape[:2] == (120, 100)

    # An error comes back as the documented Error model, with the server's sentence.
    missing = operation(package, "people", "get_user").sync(999_999, client=client)
    assert missing.error == "No person with id 999999."


def test_is_the_api_description_readable_without_a_token_unless_closed(app_factory):
    open_app = app_factory()
    anonymous = open_app.test_client()
    document = anonymous.get("/api/v1/openapi.json")
    assert document.status_code == 200
    assert document.get_json()["paths"]["/api/v1/openapi.json"]["get"]["security"] == []
    assert anonymous.get("/api/v1/docs").status_code == 200
    # Only the description: every other operation still asks for credentials.
    assert anonymous.get("/api/v1/users").status_code == 401

    closed = app_factory(FACEREC_OPENAPI_PUBLIC=False).test_client()
    refused = closed.get("/api/v1/openapi.json")
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
