from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

from .accounts import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    USERNAME_MAX,
    AccountError,
    check_password_rules,
    clean_username,
)


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=USERNAME_MAX)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=PASSWORD_MAX)])
    next = HiddenField()


class NewPasswordForm(FlaskForm):
    """A new password, typed twice and held to the account rules."""

    password = PasswordField(
        "Password",
        validators=[DataRequired()],
        description=f"At least {PASSWORD_MIN} characters.",
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[DataRequired(), EqualTo("password", message="The passwords do not match.")],
    )

    def validate_password(self, field):
        try:
            check_password_rules(field.data)
        except AccountError as exc:
            raise ValidationError(str(exc)) from None


class SetupForm(NewPasswordForm):
    code = StringField(
        "Setup code",
        validators=[DataRequired(), Length(max=100)],
        description="Printed in the server's log when it started (and kept in "
        "instance/setup-code on the server).",
    )
    username = StringField("Username", validators=[DataRequired(), Length(max=USERNAME_MAX)])

    def validate_username(self, field):
        try:
            field.data = clean_username(field.data)
        except AccountError as exc:
            raise ValidationError(str(exc)) from None


class PasswordChangeForm(NewPasswordForm):
    current = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=PASSWORD_MAX)]
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.password.label.text = "New password"
        self.confirm.label.text = "Repeat the new password"

    def validate_password(self, field):
        super().validate_password(field)
        if field.data == self.current.data:
            raise ValidationError("The new password is the same as the current one.")
