"""MQTT against a real broker (Debian's mosquitto on a free port): events, presence, discovery."""

from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
import pytest

from facerec import events
from facerec.events.mqtt import MqttUrlError, parse_url
from facerec.extensions import db
from facerec.models import User

from .broker import Broker, Subscriber
from .servers import wait_for
from .test_webhooks import SIGHTING

# The broker is what these tests are about; the database is only read for the people.
pytestmark = pytest.mark.sqlite_only


def lin(people):
    return {**SIGHTING, "user_id": people["lin-manuel-miranda"], "name": "lin-manuel-miranda"}


def key_of(app, user_id) -> str:
    """The person's external key: their topics and Home Assistant ids are made from it."""
    with app.app_context():
        return db.session.get(User, user_id).external_key


def state_topic(app, user_id) -> str:
    return f"facerec/people/{key_of(app, user_id)}/state"


def config_topic(app, user_id) -> str:
    return f"homeassistant/device_tracker/facerec_{key_of(app, user_id)}/config"


def test_does_a_subscriber_see_the_event_on_facerec_events(mqtt_app, broker):
    sub = Subscriber(broker.port, ["facerec/events"])
    try:
        events.publish("sighting.started", lin(mqtt_app.people), app=mqtt_app)
        _topic, payload, _retain = sub.wait("facerec/events")
        body = json.loads(payload)
        assert body["event"] == "sighting.started"
        assert body["sighting"]["name"] == "lin-manuel-miranda"
    finally:
        sub.close()


def test_is_a_seen_person_home_then_not_home_after_the_timeout(mqtt_app, broker):
    sighting = lin(mqtt_app.people)
    topic = state_topic(mqtt_app, sighting["user_id"])
    events.publish("sighting.started", sighting, app=mqtt_app)
    # A subscriber arriving later still gets the state: it is retained.
    time.sleep(0.3)
    sub = Subscriber(broker.port, [topic])
    try:
        assert sub.wait(topic, "home") == (topic, "home", True)
        # Still in view (the sighting has not ended): home for longer than the timeout.
        time.sleep(1.5)
        assert [payload for _t, payload, _r in sub.on(topic)] == ["home"]
        events.publish(
            "sighting.ended", {**sighting, "ended_at": "2026-11-26T06:01:00Z"}, app=mqtt_app
        )
        started = time.monotonic()
        sub.wait(topic, "not_home", timeout=5)
        assert time.monotonic() - started >= 0.9  # not before the presence timeout
    finally:
        sub.close()


def test_is_an_unknown_face_published_without_a_presence_state(mqtt_app, broker):
    sub = Subscriber(broker.port, ["facerec/#"])
    try:
        events.publish(
            "sighting.started", {**SIGHTING, "user_id": None, "name": None}, app=mqtt_app
        )
        sub.wait("facerec/events")
        time.sleep(0.3)
        topics = {topic for topic, _p, retain in sub.messages if not retain}
        assert not any(topic.endswith("/state") for topic in topics)
    finally:
        sub.close()


def test_does_home_assistant_find_every_person_by_discovery(mqtt_app, broker):
    user_id = mqtt_app.people["lin-manuel-miranda"]
    key = key_of(mqtt_app, user_id)
    topic = config_topic(mqtt_app, user_id)
    first = Subscriber(broker.port, ["homeassistant/#"])
    try:
        first.wait(topic)  # live, or retained if it was sent before this subscription
    finally:
        first.close()
    sub = Subscriber(broker.port, ["homeassistant/#"])  # comes later: only retained is left
    try:
        _t, payload, retain = sub.wait(topic)
        assert retain
        config = json.loads(payload)
        assert config["name"] == "lin-manuel-miranda"
        assert config["state_topic"] == f"facerec/people/{key}/state"
        assert (config["payload_home"], config["payload_not_home"]) == ("home", "not_home")
        assert config["unique_id"] == f"facerec_{key}"
        assert config["availability_topic"] == "facerec/status"
    finally:
        sub.close()


def test_does_home_assistant_follow_a_rename_and_forget_a_deleted_person(mqtt_app, broker):
    from .conftest import login_client

    lin_id, obama_id = mqtt_app.people["lin-manuel-miranda"], mqtt_app.people["obama"]
    lin_config, lin_state = config_topic(mqtt_app, lin_id), state_topic(mqtt_app, lin_id)
    obama_config, obama_state = config_topic(mqtt_app, obama_id), state_topic(mqtt_app, obama_id)
    sub = Subscriber(broker.port, ["homeassistant/#", "facerec/people/#"])
    try:
        sub.wait(lin_config)
        sub.wait(obama_state, "not_home")
        client = login_client(mqtt_app, mqtt_app.test_client())
        # Changed through the API, not through anything that tells the publisher.
        assert client.delete(f"/api/v1/users/{lin_id}").status_code == 204
        sub.wait(lin_config, "")  # an empty config: Home Assistant removes it
        sub.wait(lin_state, "")

        renamed = client.patch(f"/api/v1/users/{obama_id}", json={"name": "Barack Obama"})
        assert renamed.status_code == 200
        # The same entity and topics, announced again with the new friendly name.
        wait_for(lambda: any("Barack Obama" in p for _t, p, _r in sub.on(obama_config)), 10)
        announced = [json.loads(p) for _t, p, _r in sub.on(obama_config) if p]
        assert announced[-1]["name"] == "Barack Obama"
        assert announced[-1]["state_topic"] == obama_state
        assert announced[-1]["unique_id"] == announced[0]["unique_id"]
        assert not sub.on(obama_state, "")  # nothing of his was cleared
    finally:
        sub.close()
    # Someone subscribing now finds no retained trace of the deleted person.
    late = Subscriber(broker.port, ["homeassistant/#", "facerec/people/#"])
    try:
        late.wait(obama_config)
        assert not [m for m in late.messages if m[0] == lin_config and m[1]]
        assert not late.on(lin_state)
    finally:
        late.close()


def people_named(app, names) -> dict[str, int]:
    with app.app_context():
        rows = {name: User(name=name, details="") for name in names}
        db.session.add_all(rows.values())
        db.session.commit()
        return {name: row.id for name, row in rows.items()}


def announced(sub, name) -> dict:
    """The last device_tracker config Home Assistant would read for the person ``name``
    (found by its friendly name, as a user finds the entity)."""

    def find():
        configs = [
            json.loads(payload)
            for topic, payload, _r in sub.messages
            if topic.startswith("homeassistant/device_tracker/") and payload
        ]
        return [config for config in configs if config["name"] == name]

    assert wait_for(find, 10), f"no discovery config for {name}"
    return find()[-1]


def test_do_look_alike_names_get_topics_and_entities_of_their_own(mqtt_app, broker):
    """Issue 26: "lin-manuel-miranda" and "Lin Manuel Miranda" shared one entity, and
    "+1+2", "-1+2", "=1+2" all mapped to facerec/people/1_2."""
    from .conftest import login_client

    sub = Subscriber(broker.port, ["homeassistant/#", "facerec/people/#"])
    try:
        lin_state = announced(sub, "lin-manuel-miranda")["state_topic"]
        events.publish("sighting.started", lin(mqtt_app.people), app=mqtt_app)
        sub.wait(lin_state, "home")
        names = ["Lin Manuel Miranda", "+1+2", "-1+2", "=1+2"]
        others = people_named(mqtt_app, names)
        configs = [announced(sub, name) for name in ["lin-manuel-miranda", *names]]
        assert len({config["state_topic"] for config in configs}) == len(configs)
        assert len({config["unique_id"] for config in configs}) == len(configs)
        for config in configs[1:]:
            sub.wait(config["state_topic"], "not_home")
        # Announcing the newcomers sent nothing over lin-manuel-miranda, who is in view (the
        # one message since subscribing, retained ones aside, is his own "home").
        assert [p for _t, p, retained in sub.on(lin_state) if not retained] == ["home"]
        # Deleting "Lin Manuel Miranda" clears that entity and state, not the other's.
        client = login_client(mqtt_app, mqtt_app.test_client())
        assert client.delete(f"/api/v1/users/{others['Lin Manuel Miranda']}").status_code == 204
        sub.wait(configs[1]["state_topic"], "")
        assert [p for _t, p, retained in sub.on(lin_state) if not retained] == ["home"]
    finally:
        sub.close()
    late = Subscriber(broker.port, ["homeassistant/#", "facerec/people/#"])
    try:
        assert late.wait(lin_state)[1] == "home"  # still retained for Home Assistant
        assert announced(late, "lin-manuel-miranda")["unique_id"] == configs[0]["unique_id"]
        assert not [m for m in late.messages if "Lin Manuel Miranda" in m[1]]
    finally:
        late.close()


def test_does_a_new_person_never_inherit_a_deleted_persons_entity(mqtt_app, broker):
    """Ids can come back after a delete (SQLite hands out the highest again); the entity
    and topics of a person never do."""
    sub = Subscriber(broker.port, ["homeassistant/#"])
    try:
        with mqtt_app.app_context():
            last = db.session.scalars(db.select(User).order_by(User.id.desc())).first()
            old = announced(sub, last.name)
            db.session.delete(last)
            db.session.commit()
            db.session.add(User(name="newcomer", details=""))
            db.session.commit()
        # One pass over the people table forgets the deleted person, then announces the new.
        new = announced(sub, "newcomer")
    finally:
        sub.close()
    assert new["unique_id"] != old["unique_id"]
    assert new["state_topic"] != old["state_topic"]
    late = Subscriber(broker.port, ["homeassistant/#"])  # what Home Assistant would find now
    try:
        assert announced(late, "newcomer") == new
        assert not [m for m in late.messages if old["unique_id"] in m[1]], "the old entity is back"
    finally:
        late.close()


def retain(port, messages: dict):
    """Publish retained messages (topic -> payload) as an earlier facerec would have left."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="facerec-test-seed")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for topic, payload in messages.items():
            client.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def test_are_the_old_name_topics_and_gone_peoples_entities_cleared_after_the_migration(
    app_factory, broker, enroll_known
):
    """Migration 0009 gives people enrolled before it the key person_<id>: their Home
    Assistant unique_id stays, their topics move from the name to the key, and facerec
    clears what the old scheme left retained as soon as it connects."""
    app = app_factory(FACEREC_MQTT_URL=broker.url)
    people = enroll_known(app)
    lin_id = people["lin-manuel-miranda"]
    with app.app_context():
        db.session.get(User, lin_id).external_key = f"person_{lin_id}"  # as 0009 sets it
        db.session.commit()
    old_config = f"homeassistant/device_tracker/facerec_person_{lin_id}/config"
    gone_config = "homeassistant/device_tracker/facerec_person_999/config"
    someone_elses = "homeassistant/sensor/kitchen_temperature/config"
    retain(
        broker.port,
        {
            "facerec/people/lin_manuel_miranda/state": "home",
            "facerec/people/lin_manuel_miranda/attributes": '{"user_id": 1}',
            "facerec/people/someone_deleted/state": "not_home",
            old_config: '{"name": "lin-manuel-miranda", "unique_id": "facerec_person_1"}',
            gone_config: '{"name": "someone deleted"}',
            someone_elses: '{"name": "Kitchen"}',
        },
    )
    try:
        app.test_client().get("/readyz")  # the first request connects
        sub = Subscriber(broker.port, ["homeassistant/#", "facerec/#"])
        try:
            sub.wait("facerec/people/lin_manuel_miranda/state", "", timeout=15)
            sub.wait("facerec/people/lin_manuel_miranda/attributes", "")
            sub.wait("facerec/people/someone_deleted/state", "")
            sub.wait(gone_config, "")
        finally:
            sub.close()
        late = Subscriber(broker.port, ["homeassistant/#", "facerec/#"])
        try:
            config = json.loads(late.wait(old_config)[1])
            assert config["unique_id"] == f"facerec_person_{lin_id}"  # the same entity
            assert config["state_topic"] == f"facerec/people/person_{lin_id}/state"
            late.wait(f"facerec/people/person_{lin_id}/state", "not_home")
            assert late.wait(someone_elses)[1] == '{"name": "Kitchen"}'  # not ours: untouched
            retained = {topic for topic, payload, kept in late.messages if kept and payload}
            assert not retained & {
                "facerec/people/lin_manuel_miranda/state",
                "facerec/people/someone_deleted/state",
                gone_config,
            }
        finally:
            late.close()
    finally:
        events.close(app)


def test_does_publishing_resume_after_the_broker_restarts(mqtt_app, broker):
    publisher = mqtt_app.extensions["mqtt"]
    broker.stop()
    deadline = time.monotonic() + 10
    while publisher.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not publisher.connected
    # With the broker down, publishing returns at once.
    started = time.perf_counter()
    events.publish("sighting.updated", lin(mqtt_app.people), app=mqtt_app)
    assert time.perf_counter() - started < 0.1
    broker.start()
    deadline = time.monotonic() + 40
    while not publisher.connected and time.monotonic() < deadline:
        time.sleep(0.1)
    assert publisher.connected, "facerec did not reconnect"
    sub = Subscriber(broker.port, ["facerec/#"])
    try:
        # The retained state and the status came back with the reconnect (no persistence).
        sub.wait(state_topic(mqtt_app, mqtt_app.people["lin-manuel-miranda"]), "home")
        sub.wait("facerec/status", "online")
        events.publish("sighting.ended", lin(mqtt_app.people), app=mqtt_app)
        _t, payload, _r = sub.wait("facerec/events")
        assert json.loads(payload)["event"] in ("sighting.updated", "sighting.ended")
    finally:
        sub.close()


def test_does_a_broker_that_is_down_at_start_block_nothing(app_factory, tmp_path):
    broker = Broker(tmp_path)  # configured, not started
    started = time.perf_counter()
    app = app_factory(FACEREC_MQTT_URL=broker.url)
    try:
        events.publish("sighting.started", SIGHTING, app=app)
        client = app.test_client()
        ready = client.get("/readyz")
        assert time.perf_counter() - started < 5
        # Not ready (the broker is part of the configured job), but alive: a liveness probe
        # must not restart facerec because a service outside it is down.
        assert ready.status_code == 503
        assert json.loads(ready.get_data())["checks"]["mqtt"] == [
            {
                "status": "fail",
                "componentType": "system",
                "observedValue": "disconnected",
                "output": "the broker is not reachable",
            }
        ]
        assert client.get("/livez").status_code == 200
        broker.start()
        publisher = app.extensions["mqtt"]
        deadline = time.monotonic() + 40
        while not publisher.connected and time.monotonic() < deadline:
            time.sleep(0.1)
        assert publisher.connected
        assert json.loads(client.get("/readyz").get_data())["checks"]["mqtt"][0]["status"] == "pass"
    finally:
        events.close(app)
        broker.stop()


@pytest.mark.parametrize(
    "url, expected",
    [
        ("mqtt://broker.lan", ("broker.lan", 1883, False, None, None)),
        ("mqtts://u:p%40ss@broker.lan:8884", ("broker.lan", 8884, True, "u", "p@ss")),
        ("mqtts://broker.lan", ("broker.lan", 8883, True, None, None)),
    ],
)
def test_are_mqtt_urls_read_with_their_credentials_and_default_ports(url, expected):
    address = parse_url(url)
    assert (address.host, address.port, address.tls, address.username, address.password) == expected


@pytest.mark.parametrize("url", ["http://broker.lan", "mqtt://", "mqtt://host:port"])
def test_is_a_bad_mqtt_url_refused_at_start(url):
    with pytest.raises(MqttUrlError):
        parse_url(url)
