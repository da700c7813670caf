from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length
from wtforms.widgets import CheckboxInput, ListWidget

from ..models import EVENT_NAMES
from ..person_fields import PersonFieldsForm


def _checked_text(label: str, max_length: int, description: str) -> StringField:
    """A text field whose rules (and messages) live in the domain module that stores it; the
    length cap here only stops absurd inputs early."""
    return StringField(label, validators=[Length(max=max_length)], description=description)


class PersonForm(PersonFieldsForm):
    """A person's fields on their page; ``person_id`` is the person being edited."""


class UploadForm(FlaskForm):
    photos = MultipleFileField("Photos")


class TokenForm(FlaskForm):
    name = _checked_text("Name", 200, "What uses the token, e.g. “door display”.")


class CameraForm(FlaskForm):
    # Checked by camera.store.
    name = _checked_text(
        "Name", 200, "Letters, digits, - and _; part of the camera's address (/cameras/NAME)."
    )
    source = _checked_text(
        "Source", 4000, "A webcam number (0), a video file path, or an rtsp:// or http:// URL."
    )
    enabled = BooleanField("Enabled", default=True)
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
    snapshot_rate = _checked_text(
        "Snapshot rate",
        20,
        "Pictures a second asked of a snapshot camera (an http URL that answers one JPEG per "
        "request); empty for the server's default (FACEREC_SNAPSHOT_RATE).",
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
