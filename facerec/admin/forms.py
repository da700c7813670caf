from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import BooleanField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from .. import people
from ..models import EVENT_NAMES, NAME_MAX
from ..people import DETAILS_MAX


class PersonForm(FlaskForm):
    """A person's name and details; ``person_id`` is the person being edited."""

    # Length limits are checked by people.clean_name/clean_details (same messages everywhere);
    # these only stop absurd inputs early.
    name = StringField("Name", validators=[Length(max=NAME_MAX * 4)])
    details = TextAreaField(
        "Details",
        validators=[Length(max=DETAILS_MAX * 2)],
        description="Optional: role, team, notes.",
    )

    def __init__(self, *args, person_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.person_id = person_id

    def validate_name(self, field):
        try:
            people.check_name_free(people.clean_name(field.data), exclude_id=self.person_id)
        except people.PersonError as exc:
            raise ValidationError(str(exc)) from None

    def validate_details(self, field):
        try:
            people.clean_details(field.data)
        except people.PersonError as exc:
            raise ValidationError(str(exc)) from None


class UploadForm(FlaskForm):
    photos = MultipleFileField("Photos")


class TokenForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[Length(max=200)],
        description="What uses the token, e.g. “door display”.",
    )


class CameraForm(FlaskForm):
    # The rules (and their messages) are in camera.store; these only stop absurd inputs early.
    name = StringField(
        "Name",
        validators=[Length(max=200)],
        description="Letters, digits, - and _; part of the camera's address (/cameras/NAME).",
    )
    source = StringField(
        "Source",
        validators=[Length(max=4000)],
        description="A webcam number (0), a video file path, or an rtsp:// or http:// URL.",
    )
    enabled = BooleanField("Enabled", default=True)
    detect_width = StringField(
        "Detection width",
        validators=[Length(max=20)],
        description="Pixels; empty for the server's default (FACEREC_DETECT_WIDTH).",
    )
    tolerance = StringField(
        "Tolerance",
        validators=[Length(max=20)],
        description="Above 0, at most 1; empty for the server's default (FACEREC_TOLERANCE).",
    )


class WebhookForm(FlaskForm):
    # Checked by events.webhooks.clean_* (the same sentences as the CLI).
    url = StringField(
        "URL",
        validators=[Length(max=4000)],
        description="http:// or https://; facerec POSTs each event here as JSON.",
    )
    secret = StringField(
        "Secret",
        validators=[Length(max=400)],
        description="Optional. Each body is signed: X-Facerec-Signature: sha256=<HMAC>.",
    )
    events = SelectMultipleField(
        "Events",
        choices=[SelectChoice(name) for name in EVENT_NAMES],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=True,
        description="None ticked: every event.",
    )
