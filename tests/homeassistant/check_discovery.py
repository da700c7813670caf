"""Run with Home Assistant's Python (.venv-ha): check what facerec gives Home Assistant with
Home Assistant's own code.

Reads JSON on stdin: ``{"discovery": {"platform": [config, ...]}, "automations": [...]}``.
Prints JSON: ``{"discovery": [{"platform", "error", "dropped", "entity_id"}], "automations":
[{"error"}]}``. ``error`` is the schema's complaint (null when valid); ``dropped`` the keys the
discovery schema would silently remove (it removes keys it does not know); ``entity_id`` the
id Home Assistant gives the entity (its device's name, then its own, slugified).
"""

import json
import sys

import homeassistant.components.persistent_notification  # noqa: F401  (import order)
import homeassistant.helpers.config_validation as cv
from homeassistant.components.automation.config import PLATFORM_SCHEMA as AUTOMATION
from homeassistant.components.mqtt import device_tracker, image, sensor
from homeassistant.components.mqtt.trigger import TRIGGER_SCHEMA as MQTT_TRIGGER
from homeassistant.util import slugify

SCHEMAS = {
    "device_tracker": device_tracker.DISCOVERY_SCHEMA,
    "image": image.DISCOVERY_SCHEMA,
    "sensor": sensor.DISCOVERY_SCHEMA,
}


def discovery(platform: str, config: dict) -> dict:
    try:
        valid = SCHEMAS[platform](dict(config))
    except Exception as exc:  # voluptuous.Invalid and its kind
        return {"platform": platform, "error": str(exc), "dropped": [], "entity_id": None}
    device = (config.get("device") or {}).get("name")
    name = f"{device} {config['name']}" if device else config["name"]
    return {
        "platform": platform,
        "error": None,
        "dropped": sorted(set(config) - set(valid)),
        "entity_id": f"{platform}.{slugify(name)}",
    }


def automation(config: dict) -> dict:
    try:
        AUTOMATION(config)
        for trigger in config["trigger"]:
            if trigger["platform"] == "mqtt":
                MQTT_TRIGGER(trigger)
        cv.CONDITIONS_SCHEMA(config.get("condition", []))
        cv.SCRIPT_SCHEMA(config["action"])
    except Exception as exc:
        return {"error": str(exc)}
    return {"error": None}


def main():
    given = json.load(sys.stdin)
    found = [
        discovery(platform, config)
        for platform, configs in given.get("discovery", {}).items()
        for config in configs
    ]
    checked = [automation(config) for config in given.get("automations", [])]
    json.dump({"discovery": found, "automations": checked}, sys.stdout)


if __name__ == "__main__":
    main()
