from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..auth.accounts import USERNAME_MAX
from ..auth.forms import NewPasswordForm
from ..auth.roles import ROLE_TEXT, ROLES, SCOPE_TEXT, SCOPES
from ..models import EVENT_NAMES
from ..person_fields import PersonFieldsForm


def _checked_text(label: str, max_length: int, description: str) -> StringField:
    """A text field whose rules (and messages) live in the domain module that stores it; the
    length cap here only stops absurd inputs early."""
    return StringField(label, validators=[Length(max=max_length)], description=description)


def _role_field() -> SelectField:
    return SelectField(
        "Role",
        choices=[SelectChoice(role, ROLE_TEXT[role]) for role in ROLES],
        default="viewer",
        validate_choice=True,
    )


def _cameras_field() -> SelectMultipleField:
    return SelectMultipleField(
        "Cameras",
        choices=[],  # the cameras there are, filled in by the view
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=True,
        description="None ticked: every camera. Operators and viewers only; admins see all.",
    )


class PersonForm(PersonFieldsForm):
    """A person's fields on their page; ``person_id`` is the person being edited."""


class UploadForm(FlaskForm):
    photos = MultipleFileField("Photos")


class TokenForm(FlaskForm):
    """A new API token (checked by auth.accounts.create_token, as on the command line)."""

    name = _checked_text("Name", 200, "What uses the token, e.g. “door display”.")
    account = SelectField(
        "Acts for",
        coerce=int,
        choices=[],  # the active accounts, filled in by the view
        description="The token can never do more than this account's role allows.",
    )
    scopes = SelectMultipleField(
        "Scopes",
        choices=[SelectChoice(scope, f"{scope}: {SCOPE_TEXT[scope]}") for scope in SCOPES],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=True,
        description="None ticked: everything the account's role allows.",
    )
    cameras = _cameras_field()
    expires_days = IntegerField(
        "Expires after (days)",
        validators=[Optional(), NumberRange(min=1, max=3650)],
        description="Empty: never.",
    )


class CameraForm(FlaskForm):
    # Checked by camera.store.
    name = _checked_text(
        "Name", 200, "Letters, digits, - and _; part of the camera's address (/cameras/NAME)."
    )
    source = _checked_text(
        "Source",
        4000,
        "A webcam number (0), an rtsp:// or http:// URL, or a video file in the media "
        "folders (FACEREC_MEDIA_DIRS).",
    )
    enabled = BooleanField("Enabled", default=True)
    # Shown while FACEREC_CAMERA's camera is the only one: without it, the first camera
    # added is stored beside that camera, which stays the default.
    replace_main = BooleanField("Replace it with this camera", default=False)
    detect_width = _checked_text(
        "Detection width", 20, "Pixels; empty for the server's default (FACEREC_DETECT_WIDTH)."
    )
    tolerance = _checked_text(
        "Tolerance", 20, "Above 0, at most 1; empty for the server's default (FACEREC_TOLERANCE)."
    )
    transport = SelectField(
        "RTSP transport",
        choices=[
            SelectChoice("tcp", "TCP (default: works through NAT and Wi-Fi)"),
            SelectChoice("udp", "UDP"),
        ],
        default="tcp",
        description="How an rtsp:// camera sends its video; other sources ignore it.",
    )
    detect_source = _checked_text(
        "Detection sub-stream",
        4000,
        "Optional: the camera's smaller stream of the same view (such as "
        "/Streaming/Channels/102): faces are looked for in it and drawn on the source. "
        "Empty: faces are looked for in the source.",
    )
    no_detect_source = BooleanField("No detection sub-stream (look for faces in the source)")
    snapshot_rate = _checked_text(
        "Snapshot rate",
        20,
        "Pictures a second asked of a snapshot camera (an http URL that answers one JPEG per "
        "request); empty for the server's default (FACEREC_SNAPSHOT_RATE).",
    )
    motion_gate = SelectField(
        "Motion gate",
        choices=[
            SelectChoice("", "The server's default (FACEREC_MOTION_GATE)"),
            SelectChoice("on", "On: look for faces only where something moves"),
            SelectChoice("off", "Off: search every frame whole (several times the CPU)"),
        ],
        default="",
    )
    motion_area = _checked_text(
        "Motion area",
        20,
        "Percent of the picture that must change to count as movement; empty for the "
        "server's default (FACEREC_MOTION_AREA).",
    )
    recheck_interval = _checked_text(
        "Re-check interval",
        20,
        "Seconds between two looks at a face whose name is settled; empty for the server's "
        "default (FACEREC_RECHECK_INTERVAL).",
    )


class WebhookForm(FlaskForm):
    # Checked by events.webhooks.clean_* (the same sentences as the CLI).
    url = _checked_text("URL", 4000, "http:// or https://; facerec POSTs each event here as JSON.")
    secret = _checked_text(
        "Secret",
        400,
        "Optional. Each delivery is signed the Standard Webhooks way (webhook-signature); "
        "a secret starting with whsec_ is read as those libraries read it.",
    )
    events = SelectMultipleField(
        "Events",
        choices=[SelectChoice(name) for name in EVENT_NAMES],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=True,
        description="None ticked: every event.",
    )
    thumbnail = BooleanField(
        "Send the face",
        description="Each event also carries a small JPEG of the face (base64, “thumbnail”).",
    )


class RoleForm(FlaskForm):
    """An account's role and camera limit (checked by auth.accounts.set_role)."""

    role = _role_field()
    cameras = _cameras_field()


class AccountForm(NewPasswordForm):
    """A new account: username, password twice, role, cameras."""

    username = StringField("Username", validators=[DataRequired(), Length(max=USERNAME_MAX)])
    role = _role_field()
    cameras = _cameras_field()


WHO_CHOICES = [
    SelectChoice("anyone", "Anyone"),
    SelectChoice("known", "Known people (anyone enrolled)"),
    SelectChoice("unknown", "Unknown visitors only"),
    SelectChoice("people", "Only the people named below"),
]
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_CHOICES = [SelectChoice(day, day.title()) for day in DAYS]


def _checks(label: str, choices, description: str = "") -> SelectMultipleField:
    return SelectMultipleField(
        label,
        choices=choices,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=True,
        description=description,
    )


class NotificationForm(FlaskForm):
    # Checked by events.targets.save_target (the same sentences as `facerec notify add`).
    url = _checked_text(
        "Apprise URL",
        4000,
        "Where messages go: ntfys://ntfy.sh/your-topic, mailtos://user:password@example.com, "
        "tgram://bot-token/chat-id ... (any service Apprise knows).",
    )
    who = RadioField("Who", choices=WHO_CHOICES, default="anyone")
    people = _checked_text("People", 4000, "Names separated by commas (with “Only the people…”).")
    excluded = _checked_text(
        "Never for", 4000, "Names separated by commas: no message is ever sent about them."
    )
    cameras = _checks("Cameras", [], "None ticked: every camera.")
    days = _checks("Days", DAY_CHOICES, "None ticked: every day.")
    hours = _checked_text(
        "Hours", 40, "Such as 08:00-18:00 (22:00-06:00 runs past midnight); empty: all day."
    )
    cooldown = _checked_text(
        "Cool-down (minutes)",
        20,
        "At most one message per person and camera in this time (0: every arrival).",
    )
    attach = BooleanField("Attach the face", default=True)
