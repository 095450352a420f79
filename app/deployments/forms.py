"""The run form: playbook, targets and Ansible options, validated before any job exists."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import Length, NumberRange, Optional

from app.ansible.variables import connection_vars, refusal
from app.requests import REASON_VALIDATORS
from app.yamltext import YamlTextError, parse_mapping

# Host patterns, tag lists: letters, digits and the punctuation Ansible's patterns use, except `@`, which
# would make Ansible read the limit from a file on the worker.
PATTERN_RE = re.compile(r"^[A-Za-z0-9_.,:*!&\[\]~^$-]*$")


def pattern(message: str):  # type: ignore[no-untyped-def]
    """A validator for limit/tags fields."""

    def check(_form: FlaskForm, field: StringField) -> None:
        if field.data and not PATTERN_RE.match(field.data.replace(" ", "")):
            raise ValidationError(message)

    return check


class RunForm(FlaskForm):
    """Run a playbook on one host, several hosts, a group, or all hosts."""

    playbook = SelectField("Playbook", choices=[])
    target = RadioField(
        "Run on",
        choices=[SelectChoice("hosts", "Hosts"), SelectChoice("group", "A group"), SelectChoice("all", "All hosts")],
        default="hosts",
    )
    hosts = SelectMultipleField("Hosts", choices=[])
    group = SelectField("Group", choices=[], validate_choice=False)
    limit = StringField(
        "Limit", validators=[Length(max=1000), pattern("Limit: use host names or patterns (a,b or web*).")]
    )
    tags = StringField("Tags", validators=[Length(max=1000), pattern("Tags: names separated by commas.")])
    skip_tags = StringField(
        "Skip tags", validators=[Length(max=1000), pattern("Skip tags: names separated by commas.")]
    )
    extra_vars = TextAreaField("Extra vars (YAML or JSON)")
    check = BooleanField("Check mode (dry run)")
    diff = BooleanField("Diff mode")
    forks = IntegerField("Forks", default=5, validators=[NumberRange(1, 100)])
    time_limit = IntegerField("Time limit (minutes)", validators=[Optional(), NumberRange(1, 24 * 60)])
    allow_concurrent = BooleanField("Allow other jobs on these hosts at the same time")
    reason = StringField("Reason (for the audit log)", validators=REASON_VALIDATORS)

    # Set by the view: only admins may pass connection and privilege variables (ansible_*).
    may_set_connection_vars = False

    def validate_extra_vars(self, field: TextAreaField) -> None:
        """Extra vars must parse as a mapping (the error names the line) without connection settings."""
        try:
            self.parsed_extra_vars = parse_mapping(field.data, "Extra vars")
        except YamlTextError as exc:
            raise ValidationError(str(exc)) from None
        refused = [] if self.may_set_connection_vars else connection_vars(self.parsed_extra_vars)
        if refused:
            raise ValidationError(refusal(refused, "Extra vars"))

    def validate_hosts(self, field: SelectMultipleField) -> None:
        """At least one host when running on hosts."""
        if self.target.data == "hosts" and not field.data:
            raise ValidationError("Pick at least one host.")

    def validate_group(self, field: SelectField) -> None:
        """A known group when running on a group."""
        if self.target.data == "group" and field.data not in field.choices:
            raise ValidationError("Pick a group.")
