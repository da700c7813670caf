"""Run with Home Assistant's Python (.venv-ha): add facerec's stream as Home Assistant's MJPEG
IP Camera would, with Home Assistant's own code.

Reads JSON on stdin: a list of ``{"name": ..., "mjpeg_url": ...}``, what a user types into
the integration's form (Settings > Devices & services > Add integration > MJPEG IP Camera).
Prints JSON, one per form: ``{"form": error or null, "connect": error or null, "image":
base64 JPEG or null}``: the form's schema, the check the form runs before it saves the
camera (a request to the URL, HTTP errors refused), and the picture the camera entity shows
when no still-image URL is given (the first JPEG of the stream, cut out by the integration's
own parser).
"""

import asyncio
import base64
import json
import sys

import httpx
from homeassistant.components.mjpeg.camera import BUFFER_SIZE, async_extract_image_from_mjpeg
from homeassistant.components.mjpeg.config_flow import async_get_schema, validate_url


async def first_picture(url: str) -> bytes | None:
    # What MjpegCamera does without a still-image URL (_async_digest_camera_image): stream the
    # MJPEG address and keep its first whole JPEG.
    async with httpx.AsyncClient() as client, client.stream("get", url, timeout=10) as stream:
        stream.raise_for_status()
        return await async_extract_image_from_mjpeg(stream.aiter_bytes(BUFFER_SIZE))


def camera(given: dict) -> dict:
    found = {"form": None, "connect": None, "image": None}
    try:
        user_input = async_get_schema({}, show_name=True)(given)
    except Exception as exc:  # voluptuous.Invalid
        found["form"] = str(exc)
        return found
    try:
        validate_url(user_input["mjpeg_url"], None, user_input["password"], True)
        picture = asyncio.run(first_picture(user_input["mjpeg_url"]))
        found["image"] = base64.b64encode(picture).decode() if picture else None
    except Exception as exc:  # what the form shows as "cannot connect" / "invalid auth"
        found["connect"] = f"{type(exc).__name__}: {exc}"
    return found


def main():
    json.dump([camera(given) for given in json.load(sys.stdin)], sys.stdout)


if __name__ == "__main__":
    main()
