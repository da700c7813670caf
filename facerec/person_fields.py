"""The checks of a person's name and details, shared by the admin person form and the wizard."""

from contextlib import contextmanager

from flask_wtf import FlaskForm
from wtforms.validators import ValidationError

from . import people


@contextmanager
def _field_error():
    """A PersonError raised inside becomes the field's error, with the same sentence."""
    try:
        yield
    except people.PersonError as exc:
        raise ValidationError(str(exc)) from None


class PersonFieldsForm(FlaskForm):
    """A form with ``name`` and ``details`` fields, checked by people.clean_name/clean_details
    (the sentences the API and the CLI give too). Subclasses declare the two fields.

    ``person_id`` is the person being edited: their own name is not "already taken".
    With ``keep_cleaned``, a field holds its cleaned value (trimmed, inner white space folded)
    once it is cleaned, for callers that store the form's data as it is.
    """

    keep_cleaned = False

    def __init__(self, *args, person_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.person_id = person_id

    def _clean(self, field, clean):
        value = clean(field.data)
        if self.keep_cleaned:
            field.data = value
        return value

    def validate_name(self, field):
        with _field_error():
            name = self._clean(field, people.clean_name)
            people.check_name_free(name, exclude_id=self.person_id)

    def validate_details(self, field):
        with _field_error():
            self._clean(field, people.clean_details)
