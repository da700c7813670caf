"""The form fields of a person, made from ``people.PersonFields``: the person page, the wizard's
details step and the unknowns page's "Enrol" build their value with one ``clean()``."""

from __future__ import annotations

import dataclasses

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from . import people


class PersonFieldsForm(FlaskForm):
    """A form with one field per ``PersonFields`` field, checked by ``PersonFields.clean()``
    (the sentences the API and the CLI give too), each error under its field.

    ``person_id`` is the person being edited: their own name is not "already taken".
    After ``validate()``, ``person`` holds the cleaned value. With ``keep_cleaned``, the
    fields show their cleaned values (trimmed, inner white space folded) too.
    """

    keep_cleaned = False

    def __init__(self, *args, person_id: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.person_id = person_id
        self.person: people.PersonFields | None = None

    def person_fields(self) -> people.PersonFields:
        """The fields as typed (not cleaned)."""
        return people.PersonFields.from_dict(
            {name: self[name].data for name in people.PersonFields.names()}
        )

    def person_errors(self) -> list[str]:
        """Every message under a person's field, in field order."""
        return [e for name in people.PersonFields.names() for e in self[name].errors]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        try:
            person = self.person_fields().clean()
            people.check_name_free(person.name, exclude_id=self.person_id)
        except people.PersonError as exc:
            for name, message in (exc.errors or {"name": str(exc)}).items():
                self[name].errors = [*self[name].errors, message]
            return False
        if self.keep_cleaned:
            for name, value in person.to_dict().items():
                self[name].data = value
        self.person = person
        return valid


def _form_field(field: dataclasses.Field):
    about = field.metadata
    # The rule and its messages are PersonFields'; this only stops absurd inputs early.
    validators = [Length(max=about["max_length"] * 4)]
    if "choices" in about:
        choices = [SelectChoice("", about.get("none_text", ""))]
        choices += [SelectChoice(value, words) for value, words in about["choices"].items()]
        # validate_choice off: a value outside the choices gets PersonFields' sentence.
        return SelectField(
            about["label"],
            choices=choices,
            validate_choice=False,
            description=about.get("help", ""),
        )
    kind = TextAreaField if about.get("multiline") else StringField
    render_kw = {"maxlength": about["max_length"], "autocomplete": "off"}
    if about.get("input"):
        render_kw["type"] = about["input"]
    return kind(
        about["label"],
        validators=validators,
        description=about.get("help", ""),
        render_kw=render_kw,
    )


for _field in dataclasses.fields(people.PersonFields):
    setattr(PersonFieldsForm, _field.name, _form_field(_field))
