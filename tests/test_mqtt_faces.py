"""MQTT with the face: retained JPEGs per camera and per person, and the Home Assistant
entities that show them (an image per camera, a "last seen" sensor per person), checked with
Home Assistant's own discovery schemas."""

from __future__ import annotations

import json
import subprocess

import pytest

from facerec import events, faces
from facerec.extensions import db
from facerec.models import Sighting

from .broker import Subscriber, wait_connected
from .conftest import CLIP, ROOT
from .servers import wait_for
from .test_mqtt import key_of
from .test_notifications import sighting

pytestmark = pytest.mark.sqlite_only

HA_PYTHON = ROOT / ".venv-ha" / "bin" / "python"


class BinarySubscriber(Subscriber):
    """Keeps payloads as bytes (faces are JPEGs)."""

    def _on_message(self, _client, _userdata, msg):
        with self._cond:
            self.messages.append((msg.topic, msg.payload, bool(msg.retain)))
            self._cond.notify_all()


def test_does_a_sighting_leave_its_face_retained_per_camera_and_per_person(
    mqtt_app, broker, data_dir
):
    lin = mqtt_app.people["lin-manuel-miranda"]
    key = key_of(mqtt_app, lin)
    seen = sighting(mqtt_app, data_dir, lin, "lin-manuel-miranda", photo="lin-manuel-miranda.png")
    events.publish("sighting.started", seen, app=mqtt_app)
    sub = BinarySubscriber(broker.port, ["facerec/cameras/#", f"facerec/people/{key}/face"])
    try:
        for topic in ("facerec/cameras/main/face", f"facerec/people/{key}/face"):
            _t, payload, _retained = sub.wait(topic)
            picture = faces.load_image(payload)  # a JPEG that decodes
            assert len(faces.detect(picture, upsample=2)) == 1
    finally:
        sub.close()
    # An unknown face updates the camera's picture, and no person's.
    stranger = sighting(mqtt_app, data_dir, photo="obama.jpg")
    events.publish("sighting.started", stranger, app=mqtt_app)
    late = BinarySubscriber(broker.port, ["facerec/cameras/main/face", "facerec/people/+/face"])
    try:
        late.wait("facerec/cameras/main/face")
        with mqtt_app.app_context():
            unknown_crop = db.session.get(Sighting, stranger["id"]).crop

        def camera_face():
            return [p for t, p, _r in late.messages if t == "facerec/cameras/main/face"]

        assert wait_for(lambda: unknown_crop in camera_face(), 10)
        _t, kept, retained = late.wait(f"facerec/people/{key}/face")  # lin's, still his
        assert retained and kept != unknown_crop
        people_faces = {t for t, _p, _r in late.messages if t.startswith("facerec/people/")}
        assert people_faces == {f"facerec/people/{key}/face"}
    finally:
        late.close()


def discovery(broker_port) -> dict[str, list[dict]]:
    """Every retained facerec discovery config, by platform, as Home Assistant reads them."""
    sub = Subscriber(broker_port, ["homeassistant/#"])
    try:
        sub.wait("homeassistant/image/facerec_camera_main/config")
        configs: dict[str, list[dict]] = {}
        for topic, payload, _r in sub.messages:
            if payload and topic.split("/")[2].startswith("facerec_"):
                configs.setdefault(topic.split("/")[1], []).append(json.loads(payload))
        return configs
    finally:
        sub.close()


@pytest.fixture
def camera_mqtt_app(app_factory, broker, enroll_known):
    """An app with a camera called main (the image entity needs a camera) and the broker."""
    app = app_factory(FACEREC_MQTT_URL=broker.url, FACEREC_CAMERA=str(CLIP))
    app.people = enroll_known(app)
    wait_connected(app)
    yield app
    events.close(app)


def home_assistant(given: dict) -> dict:
    """``given`` checked by Home Assistant's own code (tests/homeassistant/check_discovery.py
    run by Home Assistant Core 2024.1.6 in .venv-ha, which `make homeassistant` makes)."""
    assert (HA_PYTHON.parent.parent / ".installed-stamp").exists(), (
        "Home Assistant's virtualenv is missing: run make homeassistant"
    )
    checked = subprocess.run(
        [str(HA_PYTHON), str(ROOT / "tests" / "homeassistant" / "check_discovery.py")],
        input=json.dumps(given),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stderr
    return json.loads(checked.stdout)


def test_do_the_image_and_last_seen_entities_pass_home_assistants_own_schemas(
    camera_mqtt_app, broker
):
    """Valid, and no key dropped as unknown (the discovery schemas drop them silently)."""
    configs = discovery(broker.port)
    assert len(configs["image"]) == 1
    assert len(configs["sensor"]) == len(configs["device_tracker"]) == len(camera_mqtt_app.people)
    image = configs["image"][0]
    assert image["image_topic"] == "facerec/cameras/main/face"
    assert image["content_type"] == "image/jpeg"
    lin = key_of(camera_mqtt_app, camera_mqtt_app.people["lin-manuel-miranda"])
    (sensor,) = [c for c in configs["sensor"] if c["unique_id"] == f"facerec_{lin}_last_seen"]
    assert sensor["name"] == "lin-manuel-miranda last seen"
    assert sensor["device_class"] == "timestamp"
    assert sensor["state_topic"] == f"facerec/people/{lin}/attributes"
    results = home_assistant({"discovery": configs})["discovery"]
    assert len(results) == sum(len(v) for v in configs.values())
    assert [r for r in results if r["error"] or r["dropped"]] == []
    ids = {r["entity_id"] for r in results}
    assert "image.facerec_last_face_at_main" in ids
    assert "sensor.facerec_lin_manuel_miranda_last_seen" in ids


def test_does_the_documented_home_assistant_automation_fire_for_a_stranger_at_main(
    camera_mqtt_app, broker, data_dir
):
    """docs/integrations/notifications.md's automation: Home Assistant's schemas accept it,
    its templates pick facerec's real event for an unknown face at main (and not for a known
    one), and the image it sends is the entity facerec announces."""
    import re

    import jinja2
    import yaml

    page = (ROOT / "docs" / "integrations" / "notifications.md").read_text()
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", page, re.S) if "facerec/events" in b]
    automation = yaml.safe_load(block)
    checked = home_assistant({"discovery": discovery(broker.port), "automations": [automation]})
    assert checked["automations"] == [{"error": None}]
    image = automation["action"][1]["data"]["data"]["image"]
    entity = image.rsplit("/", 1)[1]
    assert entity in {r["entity_id"] for r in checked["discovery"]}
    (trigger,) = automation["trigger"]
    sub = Subscriber(broker.port, [trigger["topic"]])
    try:
        lin = camera_mqtt_app.people["lin-manuel-miranda"]
        known = sighting(camera_mqtt_app, data_dir, lin, "lin-manuel-miranda",
                         photo="lin-manuel-miranda.png")  # fmt: skip
        events.publish("sighting.started", known, app=camera_mqtt_app)
        events.publish("sighting.started", sighting(camera_mqtt_app, data_dir),
                       app=camera_mqtt_app)  # fmt: skip
        assert wait_for(lambda: len(sub.on(trigger["topic"])) >= 2, 10)
        payloads = [json.loads(p) for _t, p, _r in sub.on(trigger["topic"])]
    finally:
        sub.close()
    env = jinja2.Environment()
    fired = []
    for payload in payloads:
        value = env.from_string(trigger["value_template"]).render(value_json=payload)
        if value != trigger["payload"]:
            continue
        condition = automation["condition"][0]["value_template"]
        if env.from_string(condition).render(trigger={"payload_json": payload}) == "True":
            fired.append(payload["sighting"]["name"])
    assert fired == [None]  # the stranger, not lin-manuel-miranda


def test_does_the_last_seen_sensor_read_the_camera_and_time_of_the_last_sighting(
    mqtt_app, broker, data_dir
):
    lin = mqtt_app.people["lin-manuel-miranda"]
    key = key_of(mqtt_app, lin)
    seen = sighting(mqtt_app, data_dir, lin, "lin-manuel-miranda", camera="door",
                    photo="lin-manuel-miranda.png")  # fmt: skip
    event = events.publish("sighting.started", seen, app=mqtt_app)
    sub = Subscriber(broker.port, [f"facerec/people/{key}/attributes"])
    try:
        topic = f"facerec/people/{key}/attributes"
        assert wait_for(
            lambda: any(json.loads(p).get("camera") == "door" for t, p, _r in sub.messages), 10
        )
        attributes = json.loads([p for t, p, _r in sub.messages if t == topic][-1])
        assert attributes == {
            "user_id": lin,
            "name": "lin-manuel-miranda",
            "camera": "door",
            "last_seen": event.time,
        }
    finally:
        sub.close()


def test_does_an_mqtt_event_carry_the_address_of_its_face(app_factory, broker, data_dir):
    """facerec/events holds the crop's URL (absolute with FACEREC_BASE_URL), the address an API
    token fetches the face from; the JPEG itself goes to the retained face topics, never
    inline in the event."""
    from .test_roles import bearer, token_for

    app = app_factory(FACEREC_MQTT_URL=broker.url, FACEREC_BASE_URL="https://faces.example.net/")
    wait_connected(app)
    sub = Subscriber(broker.port, ["facerec/events"])
    try:
        seen = sighting(app, data_dir)
        events.publish("sighting.started", seen, app=app)
        _topic, payload, _retained = sub.wait("facerec/events")
    finally:
        sub.close()
        events.close(app)
    carried = json.loads(payload)["sighting"]
    path = f"/api/v1/sightings/{seen['id']}/crop.jpg"
    assert carried["crop_url"] == "https://faces.example.net" + path
    assert "thumbnail" not in json.dumps(json.loads(payload))
    crop = app.test_client().get(path, headers=bearer(token_for(app, scopes="read")))
    assert crop.status_code == 200 and crop.mimetype == "image/jpeg"
    assert len(faces.detect(faces.load_image(crop.data), upsample=2)) == 1
