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


class SetupForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=USERNAME_MAX)])
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

    def validate_username(self, field):
        try:
            field.data = clean_username(field.data)
        except AccountError as exc:
            raise ValidationError(str(exc)) from None
