"""schemathesis hooks for the contract run (loaded through SCHEMATHESIS_HOOKS by test_openapi).

No generated image holds a face, so without help every photo operation would only ever be
refused (400) and its logic past the face check never reached. Here a generated upload is,
some of the time, swapped for a real photo (FACEREC_SCHEMATHESIS_PHOTOS, paths separated by
the path separator); which photo, and whether, is drawn by hypothesis, so a seed replays.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import schemathesis
from hypothesis import strategies as st
from schemathesis.transport.serialization import Binary

PHOTOS = [
    Path(path).read_bytes()
    for path in os.environ.get("FACEREC_SCHEMATHESIS_PHOTOS", "").split(os.pathsep)
    if path
]


# What schemathesis generates for a file (format: binary): bytes, wrapped or not.
FILE = (bytes, Binary)


def _with_photo(body: dict, photo: bytes) -> dict:
    changed = dict(body)
    if isinstance(changed.get("image"), FILE):
        changed["image"] = Binary(photo)
    images = changed.get("images")
    if isinstance(images, list) and images and all(isinstance(i, FILE) for i in images):
        # The first photo real, the others as generated: as many parts as before, so a case
        # with more photos than the schema allows (maxItems) is still one, and still refused.
        changed["images"] = [Binary(photo), *images[1:]]
    return changed


def _has_file(body) -> bool:
    """A file generated where the schema wants one (a schema-violating case may carry text
    there instead: that stays as it is, so it is still refused)."""
    if not isinstance(body, dict):
        return False
    images = body.get("images")
    return isinstance(body.get("image"), FILE) or (
        isinstance(images, list) and bool(images) and all(isinstance(i, FILE) for i in images)
    )


@schemathesis.hook
def flatmap_body(context, body):
    """An upload as generated, or with a real photo in it."""
    if not PHOTOS or not _has_file(body):
        return st.just(body)
    real = st.sampled_from(PHOTOS).map(lambda photo: _with_photo(body, photo))
    return st.one_of(st.just(body), real)


# schemathesis' description of a type mutation: "violates `type` at /properties/NAME".
MUTATED = re.compile(r"violates `type` at /properties/(\w+)")


def _text_on_the_wire(value) -> bool:
    """Whether multipart sends ``value`` as one text part (a scalar, or a one-item list)."""
    if isinstance(value, list):
        return len(value) == 1 and _text_on_the_wire(value[0])
    return value is None or isinstance(value, bool | int | float | str)


def _required(case) -> set[str]:
    body = case.operation.get_body_for_media_type(case.media_type)
    return set((body.resolved_schema or {}).get("required", ())) if body is not None else set()


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keep every failure but one that cannot be told apart on the wire: multipart carries
    text, so a field mutated to null, a boolean, a number or a one-item list travels as
    "null", "false", "5" or that item, which is valid for a text field (a camera may be
    named "false"); and an empty list sends no part at all, which for an optional field is
    the field left out. Such a request is not schema-violating as sent; a numeric field
    given such text, a field sent twice, or a required one left out, is refused (422)."""
    mutated = MUTATED.search(failure.message or "")
    if not (
        failure.code == "ST201"
        and (case.media_type or "").startswith("multipart/")
        and mutated is not None
        and isinstance(case.body, dict)
    ):
        return True
    name = mutated.group(1)
    value = case.body.get(name)
    left_out = value == [] and name not in _required(case)
    return not (_text_on_the_wire(value) or left_out)
