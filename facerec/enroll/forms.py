"""Forms of the enrollment wizard. Every one carries the CSRF token, even a lone button."""

from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf, Optional, ValidationError

from ..person_fields import PersonFieldsForm


class DetailsForm(PersonFieldsForm):
    """Step 1: who is being enrolled (stored in the draft as the form cleaned it)."""

    keep_cleaned = True


class ButtonForm(FlaskForm):
    """A form that is only a button: the snapshot, removing a sample, starting over."""


class UploadForm(FlaskForm):
    """Step 2, the other path: photos from disk, checked like snapshots."""

    photos = MultipleFileField("Photos")

    def validate_photos(self, field):
        if not [f for f in field.data or [] if getattr(f, "filename", "")]:
            raise ValidationError("Choose at least one photo.")


ACTIONS = ("save", "save_anyway", "add", "cancel")


class ReviewForm(FlaskForm):
    """Step 3: the buttons are named ``action``; ``target`` is the look-alike's id for ``add``."""

    action = StringField(validators=[AnyOf(ACTIONS, message="Unknown action.")])
    target = HiddenField(validators=[Optional()])
