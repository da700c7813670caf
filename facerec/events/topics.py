"""MQTT topic names and Home Assistant discovery configs: what the MQTT sink publishes where.

A person's topics and entity ids are made from their ``external_key`` (stored, random, never
reused), never from their name or id: two people with names that look alike, a rename, or an
id reused after a delete cannot make two people share a topic or an entity. Names appear only
in payloads and in Home Assistant's friendly names.
"""

from __future__ import annotations

EVENTS_TOPIC = "facerec/events"
STATUS_TOPIC = "facerec/status"  # retained online/offline (the will): HA's availability
HOME, NOT_HOME = "home", "not_home"
PEOPLE = "facerec/people"
CAMERAS = "facerec/cameras"

DEVICE = {
    "identifiers": ["facerec"],
    "name": "facerec",
    "manufacturer": "facerec",
    "model": "face recognition",
}


def person_topic(key: str, leaf: str) -> str:
    """``facerec/people/<key>/<leaf>`` (leaf: ``state``, ``attributes``, ``face``)."""
    return f"{PEOPLE}/{key}/{leaf}"


def person_topics(key: str) -> list[str]:
    """Every retained topic facerec may keep for a person (cleared when they go)."""
    return [person_topic(key, leaf) for leaf in ("state", "attributes", "face")]


def camera_face_topic(camera: str) -> str:
    """The last face seen at ``camera``: a retained JPEG."""
    return f"{CAMERAS}/{camera}/face"


def tracker_topic(prefix: str, key: str) -> str:
    return f"{prefix}/device_tracker/facerec_{key}/config"


def tracker_config(key: str, name: str) -> dict:
    """Home Assistant discovery of a person's device_tracker (home / not_home)."""
    return {
        "name": name,
        "unique_id": f"facerec_{key}",
        "state_topic": person_topic(key, "state"),
        "json_attributes_topic": person_topic(key, "attributes"),
        "payload_home": HOME,
        "payload_not_home": NOT_HOME,
        "source_type": "router",
        "availability_topic": STATUS_TOPIC,
        "device": DEVICE,
    }


def last_seen_topic(prefix: str, key: str) -> str:
    return f"{prefix}/sensor/facerec_{key}_last_seen/config"


def last_seen_config(key: str, name: str) -> dict:
    """A person's "last seen" sensor: the time (a timestamp sensor), the camera among its
    attributes. Reads the attributes topic that the device_tracker reads too."""
    return {
        "name": f"{name} last seen",
        "unique_id": f"facerec_{key}_last_seen",
        "state_topic": person_topic(key, "attributes"),
        "value_template": "{{ value_json.last_seen }}",
        "device_class": "timestamp",
        "json_attributes_topic": person_topic(key, "attributes"),
        "availability_topic": STATUS_TOPIC,
        "device": DEVICE,
    }


def discovery_topics(prefix: str, key: str) -> list[str]:
    """Every discovery config facerec may keep for a person."""
    return [tracker_topic(prefix, key), last_seen_topic(prefix, key)]


def camera_image_topic(prefix: str, camera: str) -> str:
    return f"{prefix}/image/facerec_camera_{camera}/config"


def camera_image_config(camera: str) -> dict:
    """An image entity per camera showing the last face seen there."""
    return {
        "name": f"Last face at {camera}",
        "unique_id": f"facerec_camera_{camera}_face",
        "image_topic": camera_face_topic(camera),
        "content_type": "image/jpeg",
        "availability_topic": STATUS_TOPIC,
        "device": DEVICE,
    }


def camera_topics(prefix: str, camera: str) -> list[str]:
    """Every retained topic facerec may keep for a camera."""
    return [camera_face_topic(camera), camera_image_topic(prefix, camera)]


def sweep_filters(prefix: str) -> list[str]:
    """Subscriptions under which every retained topic facerec ever kept can be found."""
    return [f"{PEOPLE}/+/+", f"{CAMERAS}/+/+", f"{prefix}/+/+/config"]


def is_ours(topic: str, prefix: str) -> bool:
    """Was ``topic`` (found under ``sweep_filters``) published by facerec? Discovery configs
    of other integrations share the prefix: ours have object ids starting with facerec_."""
    if topic.startswith((PEOPLE + "/", CAMERAS + "/")):
        return True
    parts = topic.split("/")
    return (
        topic.startswith(prefix + "/")
        and len(parts) == len(prefix.split("/")) + 3
        and parts[-2].startswith("facerec_")
    )
