"""Forms for logging in and managing users."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from app.models.user import ROLES, USERNAME_PATTERN, password_problem
from app.requests import REASON_VALIDATORS


def normalise_username(value: str | None) -> str | None:
    """Usernames are case-insensitive: compare and store them trimmed and lowercase."""
    return value.strip().lower() if value else value


def acceptable_password(form: FlaskForm, field: Field) -> None:
    """The model's password rule (length, not a common password), with its reason as the field's error."""
    problem = password_problem(field.data or "")
    if problem:
        raise ValidationError(problem)


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField("Username", filters=[normalise_username], validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me logged in")


class UserCreateForm(FlaskForm):
    """A new user: name, role and a first password."""

    username = StringField(
        "Username",
        filters=[normalise_username],
        validators=[
            DataRequired(),
            Regexp(USERNAME_PATTERN, message="Use 2–64 lowercase letters, digits, . _ -, starting with a letter."),
        ],
    )
    role = SelectField("Role", choices=list(ROLES), default="viewer")
    password = PasswordField("Password", validators=[DataRequired(), acceptable_password])


class UserEditForm(FlaskForm):
    """Change a user's role, state, or password."""

    role = SelectField("Role", choices=list(ROLES))
    active = BooleanField("Active")
    password = PasswordField("New password (leave empty to keep)", validators=[Optional(), acceptable_password])
    reason = StringField("Reason", validators=REASON_VALIDATORS)
