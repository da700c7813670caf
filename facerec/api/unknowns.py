"""Unknown visitors and corrections: list, enrol, assign, dismiss groups; label a sighting."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from .. import people
from ..auth.roles import requires
from ..extensions import db
from ..unknowns import listing, place_now, service
from ..web import DATABASE_ID_MAX as ID_MAX
from . import bp
from .contract import ENGINE_BUSY, JsonBody, operation, operations_on_id
from .errors import ApiError
from .schemas import Sighting, person_body, timestamp
from .schemas import User as UserSchema
from .sightings import on_sighting
from .users import commit, get_or_404, on_person

NO_GROUP_OR_PERSON = ("No unknown group, or no person, with this id.", "No person with id 42.")
RESOLVED = "This visitor was already enrolled as or assigned to Ada Lovelace."


def person_id(description: str = "The person's id.", example: int | None = 3, **kwargs):
    metadata = {"description": description}
    if example is not None:
        metadata["example"] = example
    return ma.fields.Integer(
        strict=True,
        validate=validate.Range(1, ID_MAX, error="must be a person's id (a whole number from 1)."),
        metadata=metadata,
        **kwargs,
    )


class UnknownGroup(ma.Schema):
    id = ma.fields.Integer(required=True, metadata={"example": 4})
    sightings = ma.fields.Integer(required=True, metadata={"example": 3})
    first_seen = timestamp()
    last_seen = timestamp()
    crop_urls = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={
            "description": "The best crops (seen for the most frames first), at most 5.",
            "example": ["/api/v1/sightings/17/crop.jpg"],
        },
    )


class UnknownGroupList(ma.Schema):
    groups = ma.fields.List(ma.fields.Nested(UnknownGroup), required=True)


EnrollUnknown = person_body(
    "EnrollUnknown",
    JsonBody,
    "The new person's fields.",
    examples={"name": "Kit Harington"},
    save_anyway=ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Enrol even though the faces look like someone enrolled."},
    ),
)


class AssignUnknown(JsonBody):
    user_id = person_id(required=True)


class Label(JsonBody):
    user_id = person_id("This is that person.")
    not_user_id = person_id("This is not that person.", example=None)


def _group(group_id: int):
    try:
        return service.get_group(group_id)
    except service.GroupGone as exc:
        raise ApiError(404, str(exc)) from None


# The operations on the unknown group the path names: the view gets the UnknownGroup. A group
# that went to someone else meanwhile (service.GroupResolved) is a 409, see errors.py.
on_group = operations_on_id("group_id", _group, noun="unknown group", tag="Corrections")


@bp.get("/unknowns")
@requires("unknowns")
@operation(
    "listUnknowns",
    tag="Corrections",
    summary="Unknown visitors: groups of unknown sightings that look like one person",
    description="Dismissed groups are left out. Last seen first.",
    responses={200: ("The groups.", UnknownGroupList)},
    links={200: [(on_group, "$response.body#/groups/0/id")]},
)
def list_unknowns():
    """Groups of unknown sightings that look like one recurring visitor, last seen first."""
    return {"groups": listing.summaries()}


@bp.post("/unknowns/<int:group_id>/enroll")
@requires("correct")
@on_group(
    "enrollUnknown",
    summary="Enrol the visitor as a new person from the group's best crops",
    description=(
        "Each crop must pass the wizard's checks (one face, big and sharp enough); 422 when "
        "none does. 409 when the faces look like someone enrolled (send `save_anyway`, or "
        "assign the group to them), when the name is taken, or when the group already went to "
        "someone else. Sent again with the same name: 200 with the same person."
    ),
    body=EnrollUnknown,
    responses={
        200: ("Already enrolled by an earlier request.", UserSchema),
        201: ("The new person, with their samples.", UserSchema),
    },
    links={status: [(on_person, "$response.body#/id")] for status in (200, 201)},
    errors={
        409: ("Look-alike, name taken, or the group went to someone else.", RESOLVED),
        503: ENGINE_BUSY,
    },
)
def enroll_unknown(group, body):
    """Enrol the visitor as a new person from the group's best crops."""
    if group.user_id is None and not body["save_anyway"]:
        match = service.look_alike(service.members(group))
        if match is not None:
            raise ApiError(
                409,
                f"This visitor looks like {match.name} (distance {match.distance:.2f}), who is "
                f"already enrolled. Assign the group to {match.name} (user_id {match.user_id}) "
                'instead, or send "save_anyway": true.',
            )
    try:
        fields = people.PersonFields.from_dict(body["person"])
        user, _refused, created = service.enroll_group(group, fields)
    except people.SampleRejected as exc:
        db.session.rollback()
        raise ApiError(422, str(exc)) from None
    commit()
    return user, 201 if created else 200


@bp.post("/unknowns/<int:group_id>/assign")
@requires("correct")
@on_group(
    "assignUnknown",
    summary="The visitor is this enrolled person: add the best crops to them",
    description=(
        "Crops that fail the sample checks are skipped. Sent again, nothing is added twice. "
        "409 when the group already went to someone else."
    ),
    body=AssignUnknown,
    responses={200: ("The person, with their samples.", UserSchema)},
    links={200: [(on_person, "$response.body#/id")]},
    errors={
        404: NO_GROUP_OR_PERSON,
        409: ("The group went to someone else.", RESOLVED),
        503: ENGINE_BUSY,
    },
)
def assign_unknown(group, body):
    """The visitor is this enrolled person: add their best crops as samples, relabel."""
    user = get_or_404(body["user_id"])
    service.assign_group(group, user)
    commit()
    return user


@bp.delete("/unknowns/<int:group_id>")
@requires("correct")
@on_group(
    "dismissUnknown",
    summary="Dismiss a group (hide it; its sightings stay in the history)",
    responses={204: ("Dismissed.", None)},
)
def dismiss_unknown(group):
    """Hide the group from the unknowns; its sightings stay in the history."""
    service.dismiss(group)
    commit()
    return None, 204


@bp.post("/sightings/<int:sighting_id>/label")
@requires("correct")
@on_sighting(
    "labelSighting",
    tag="Corrections",
    summary="Correct a sighting: this is N, or this is not N",
    description=(
        "`user_id`: the sighting is relabelled and its crop becomes a sample of that person if "
        "it passes the checks. `not_user_id` (on a sighting named N): its face becomes a "
        "negative sample of N and the sighting becomes unknown."
    ),
    body=Label,
    responses={200: ("The sighting, relabelled.", Sighting)},
    errors={
        404: ("No sighting, or no person, with this id.", "No sighting with id 42."),
        409: (
            "Neither or both of `user_id` and `not_user_id`; or “this is not N” on a sighting "
            "not named N, without an encoding, or whose face is one of N's own samples.",
            "This sighting is not named Ada Lovelace; nothing to correct.",
        ),
        503: ENGINE_BUSY,
    },
)
def label_sighting(sighting, body):
    """“This is N” (its crop becomes a sample if it passes) or “this is not N” (a negative)."""
    if ("user_id" in body) == ("not_user_id" in body):
        raise ApiError(
            409, "Send exactly one of “user_id” (this is N) or “not_user_id” (this is not N)."
        )
    if "user_id" in body:
        service.label_as(sighting, get_or_404(body["user_id"]))
    else:
        user = get_or_404(body["not_user_id"])
        try:
            service.not_this(sighting, user)
        except (service.CannotCorrect, people.SampleRejected) as exc:
            raise ApiError(409, str(exc)) from None
        commit()
        place_now([sighting.id])
    commit()
    return sighting
