"""Unknown visitors and corrections: list, enrol, assign, dismiss groups; label a sighting."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from .. import people
from ..auth.roles import requires, visible_cameras
from ..extensions import db
from ..unknowns import actions, listing, place_now, questions, service
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


class LooksLike(ma.Schema):
    user_id = ma.fields.Integer(required=True, metadata={"example": 3})
    name = ma.fields.String(required=True, metadata={"example": "Lin-Manuel Miranda"})
    distance = ma.fields.Float(
        required=True,
        metadata={"description": "The median distance of its faces to them.", "example": 0.41},
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
    looks_like = ma.fields.Nested(
        LooksLike,
        required=True,
        allow_none=True,
        metadata={
            "description": "Someone enrolled or given samples since it was seen, whom its "
            "faces match now (assign it to them with one call); null: nobody. Such groups "
            "come first.",
            "example": None,
        },
    )
    cannot_enrol = ma.fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "Why none of its faces can become a sample (then it cannot be "
            "enrolled as a new person, only assigned); null: it can.",
            "example": None,
        },
    )


class Question(ma.Schema):
    sighting_id = ma.fields.Integer(required=True, metadata={"example": 31})
    user_id = ma.fields.Integer(required=True, metadata={"example": 3})
    name = ma.fields.String(required=True, metadata={"example": "Anna"})
    camera = ma.fields.String(required=True, metadata={"example": "main"})
    started_at = timestamp(attribute="started")
    distance = ma.fields.Float(required=True, metadata={"example": 0.57})
    threshold = ma.fields.Float(
        required=True,
        metadata={"description": "The person's threshold it was judged by.", "example": 0.6},
    )
    look_alike = ma.fields.Boolean(
        required=True,
        metadata={"description": "Asked because the person has a look-alike.", "example": False},
    )
    crop_url = ma.fields.String(
        required=True, metadata={"example": "/api/v1/sightings/31/crop.jpg"}
    )


class QuestionList(ma.Schema):
    questions = ma.fields.List(ma.fields.Nested(Question), required=True)


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


def _no_repeats(ids):
    if len(set(ids)) != len(ids):
        raise ma.ValidationError("must not name an id twice.")


def id_list(what: str, example: list[int], minimum: int = 0):
    return ma.fields.List(
        ma.fields.Integer(
            strict=True,
            validate=validate.Range(1, ID_MAX, error=f"must be {what} id (a whole number from 1)."),
        ),
        load_default=list,
        validate=[
            validate.Length(
                min=minimum,
                max=actions.SELECTION_MAX,
                error=f"must list from {minimum or 'no'} to {actions.SELECTION_MAX} ids.",
            ),
            _no_repeats,
        ],
        metadata={"example": example, "uniqueItems": True},
    )


class Selected(JsonBody):
    """Whole groups and single sightings picked inside groups (at least one of them)."""

    group_ids = id_list("an unknown group's", [3])
    sighting_ids = id_list("a sighting's", [])


class AssignSelected(Selected):
    group_ids = id_list("an unknown group's", [4])
    user_id = person_id(required=True)


EnrollSelected = person_body(
    "EnrollSelected",
    Selected,
    "The new person's fields, and the groups and sightings they are.",
    examples={"name": "Rose Leslie"},
    group_ids=id_list("an unknown group's", [5]),
    save_anyway=ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Enrol even though the faces look like someone enrolled."},
    ),
)


class MergeGroups(JsonBody):
    group_ids = id_list("an unknown group's", [1, 2], minimum=2)
    group_ids.required = True


class SplitGroup(JsonBody):
    sighting_ids = id_list("a sighting's", [14], minimum=1)
    sighting_ids.required = True


class Label(JsonBody):
    user_id = person_id("This is that person.")
    not_user_id = person_id("This is not that person.", example=None)


def _group(group_id: int):
    try:
        group = service.get_group(group_id)
    except service.GroupGone as exc:
        raise ApiError(404, str(exc)) from None
    service.require_visible(group)
    return group


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
    return {"groups": listing.summaries(cameras=visible_cameras())}


@bp.get("/unknowns/questions")
@requires("unknowns")
@operation(
    "listQuestions",
    tag="Corrections",
    summary='Questions: sightings named after a close call ("Is this Anna?")',
    description="Newest first. Answer with POST /api/v1/sightings/{id}/label: `user_id` "
    "(yes: the crop becomes a sample if it passes the sample rules) or `not_user_id` (no: a "
    "negative); an answered question leaves the list.",
    responses={200: ("The questions waiting.", QuestionList)},
)
def list_questions():
    """The sightings named after a close call, newest first."""
    return {"questions": questions.open_questions(visible_cameras())}


def _selected(body) -> actions.Selection:
    try:
        return actions.select_(body["group_ids"], body["sighting_ids"])
    except service.GroupGone as exc:
        raise ApiError(404, str(exc)) from None
    except service.CannotCorrect as exc:
        raise ApiError(409, str(exc)) from None


def _enroll(selection: actions.Selection, body):
    resolved = selection.groups and all(g.user_id for g in selection.groups)
    if not resolved and not body["save_anyway"]:
        match = service.look_alike(selection.sightings())
        if match is not None:
            one = len(selection.groups) == 1 and not selection.singles
            who, them = ("This visitor looks", "the group") if one else ("These faces look", "them")
            raise ApiError(
                409,
                f"{who} like {match.name}, who is already enrolled: distance "
                f"{people.distance_words(match.distance)}. Assign {them} to {match.name} "
                f'(user_id {match.user_id}) instead, or send "save_anyway": true.',
            )
    try:
        fields = people.PersonFields.from_dict(body["person"])
        user, _refused, created = actions.enroll(selection, fields)
    except people.SampleRejected as exc:
        db.session.rollback()
        raise ApiError(422, str(exc)) from None
    commit()
    return user, 201 if created else 200


def _assign(selection: actions.Selection, user_id: int):
    user = get_or_404(user_id)
    actions.assign(selection, user)
    commit()
    return user


ENROLLED = {
    200: ("Already enrolled by an earlier request.", UserSchema),
    201: ("The new person, with their samples.", UserSchema),
}
PERSON_LINKS = {status: [(on_person, "$response.body#/id")] for status in (200, 201)}
ENROLL_ERRORS = {
    409: ("Look-alike, name taken, or a group went to someone else.", RESOLVED),
    503: ENGINE_BUSY,
}
SELECTED = (
    "`group_ids` are whole groups, `sighting_ids` single unknown sightings picked inside "
    "groups (at least one id in all). "
)


@bp.post("/unknowns/<int:group_id>/enroll")
@requires("correct")
@on_group(
    "enrollUnknown",
    example=6,  # a group of its own in the examples, as for split
    summary="Enrol the visitor as a new person from the group's best crops",
    description=(
        "Each crop must pass the wizard's checks (one face, big and sharp enough); 422 when "
        "none does. 409 when the faces look like someone enrolled (send `save_anyway`, or "
        "assign the group to them), when the name is taken, or when the group already went to "
        "someone else. Sent again with the same name: 200 with the same person."
    ),
    body=EnrollUnknown,
    responses=ENROLLED,
    links=PERSON_LINKS,
    errors=ENROLL_ERRORS,
)
def enroll_unknown(group, body):
    """Enrol the visitor as a new person from the group's best crops."""
    return _enroll(actions.Selection([group]), body)


@bp.post("/unknowns/enroll")
@requires("correct")
@operation(
    "enrollUnknowns",
    tag="Corrections",
    summary="Enrol several visitors (and single sightings) as one new person",
    description=SELECTED
    + "The best crops of each group and each single sighting's crop become samples if they "
    "pass the sample checks; 422 when none does. 409 as for one group, and when nothing is "
    "chosen or a sighting is named already. Sent again with the same name: 200 with the same "
    "person.",
    body=EnrollSelected,
    responses=ENROLLED,
    links=PERSON_LINKS,
    errors={
        404: (
            "No unknown group with one of these ids.",
            "No unknown visitor 42 (merged or removed meanwhile).",
        ),
        **ENROLL_ERRORS,
    },
)
def enroll_unknowns(body):
    """Enrol several visitors (and single sightings) as one new person."""
    return _enroll(_selected(body), body)


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
    return _assign(actions.Selection([group]), body["user_id"])


@bp.post("/unknowns/assign")
@requires("correct")
@operation(
    "assignUnknowns",
    tag="Corrections",
    summary="Several visitors (and single sightings) are this enrolled person",
    description=SELECTED
    + "Every crop that passes the sample checks is added once (the best of each group, each "
    "single sighting's); the others are left out. Every sighting is relabelled. Sent again, "
    "nothing is added twice. 409 when a group already went to someone else.",
    body=AssignSelected,
    responses={200: ("The person, with their samples.", UserSchema)},
    links={200: [(on_person, "$response.body#/id")]},
    errors={
        404: (
            "No unknown group, sighting or person with one of these ids.",
            "No person with id 42.",
        ),
        409: (
            "A group went to someone else; nothing chosen; a sighting named already.",
            RESOLVED,
        ),
        503: ENGINE_BUSY,
    },
)
def assign_unknowns(body):
    """Several visitors (and single sightings) are this enrolled person."""
    return _assign(_selected(body), body["user_id"])


@bp.delete("/unknowns/<int:group_id>")
@requires("correct")
@on_group(
    "dismissUnknown",
    summary="Dismiss a group (hide it; its sightings stay in the history)",
    responses={204: ("Dismissed.", None)},
)
def dismiss_unknown(group):
    """Hide the group from the unknowns; its sightings stay in the history."""
    actions.dismiss(actions.Selection([group]))
    commit()
    return None, 204


@bp.post("/unknowns/dismiss")
@requires("correct")
@operation(
    "dismissUnknowns",
    tag="Corrections",
    summary="Dismiss several visitors (and single sightings)",
    description=SELECTED
    + "Their sightings stay in the history; single sightings go to a dismissed group of their "
    "own.",
    body=Selected,
    responses={204: ("Dismissed.", None)},
    errors={
        404: (
            "No unknown group or sighting with one of these ids.",
            "No unknown visitor 42 (merged or removed meanwhile).",
        ),
        409: (
            "Nothing chosen, or a sighting named already.",
            "Sighting 17 is named Ada Lovelace already.",
        ),
    },
)
def dismiss_unknowns(body):
    """Hide several visitors (and single sightings); their sightings stay in the history."""
    actions.dismiss(_selected(body))
    commit()
    return None, 204


@bp.post("/unknowns/merge")
@requires("correct")
@operation(
    "mergeUnknowns",
    tag="Corrections",
    summary="Merge groups that are one visitor",
    description=(
        "Every sighting goes to the oldest group; the others are deleted. The merged group is "
        "never merged or split by automatic grouping again. 409 when a group already went to "
        "someone."
    ),
    body=MergeGroups,
    responses={200: ("The merged group.", UnknownGroup)},
    errors={
        404: (
            "No unknown group with one of these ids.",
            "No unknown visitor 42 (merged or removed meanwhile).",
        ),
        409: ("A group went to someone already, or none has an unknown face left.", RESOLVED),
    },
)
def merge_unknowns(body):
    """Merge groups that are one visitor: the oldest keeps every sighting."""
    selection = _selected({"group_ids": body["group_ids"], "sighting_ids": []})
    try:
        group = actions.merge(selection.groups)
    except service.CannotCorrect as exc:
        raise ApiError(409, str(exc)) from None
    commit()
    return listing.summary_of(group.id)


@bp.post("/unknowns/<int:group_id>/split")
@requires("correct")
@on_group(
    "splitUnknown",
    # Its own example group (not the other operations' 7), so that the examples a client
    # tries one after the other (assign 7, then split 7) do not undo each other.
    example=8,
    summary="Split a group: the chosen sightings become a new group",
    description=(
        "For a group that holds two people. Both groups are kept apart from automatic merging "
        "from then on. 409 when a sighting is not an unknown face of this group, or when every "
        "one is chosen."
    ),
    body=SplitGroup,
    responses={201: ("The new group.", UnknownGroup)},
    errors={
        409: (
            "The group went to someone already; a sighting not of this group; every one chosen.",
            "Sighting 17 is not an unknown face of visitor 4.",
        ),
    },
)
def split_unknown(group, body):
    """The chosen sightings of the group become a new group."""
    try:
        new = actions.split(group, body["sighting_ids"])
    except service.CannotCorrect as exc:
        raise ApiError(409, str(exc)) from None
    commit()
    return listing.summary_of(new.id), 201


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
