"""Host, group and import forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import IntegerField, SelectMultipleField, StringField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from app.ansible.inventory import GROUP_NAME_RE, HOST_NAME_RE, HOST_NAME_RULE
from app.ansible.variables import changed_connection_vars, refusal
from app.models import Group, Host
from app.models.inventory import group_by_name, host_by_name
from app.requests import plain_text
from app.yamltext import YamlTextError, parse_mapping


class VariablesMixin:
    """A YAML variables field that must parse as a mapping; connection settings (ansible_*) are admins' to set."""

    # Set by the view: the variables before this edit, and whether this user may change connection settings.
    previous_variables: dict[str, object] | None = None
    may_set_connection_vars = False

    def validate_variables(self, field: TextAreaField) -> None:
        """Parse the variables (the error names the line); refuse connection settings a non-admin changed."""
        try:
            self.parsed_variables = parse_mapping(field.data, "Variables")
        except YamlTextError as exc:
            raise ValidationError(str(exc)) from None
        if not self.may_set_connection_vars:
            changed = changed_connection_vars(self.parsed_variables, self.previous_variables)
            if changed:
                raise ValidationError(refusal(changed, "Variables"))


class HostForm(VariablesMixin, FlaskForm):
    """A host: name, how to reach it, variables, groups."""

    name = StringField(
        "Name",
        validators=[
            DataRequired(),
            Length(max=255),
            Regexp(HOST_NAME_RE.pattern, message=f"Host names have {HOST_NAME_RULE}."),
        ],
    )
    address = StringField(
        "Address (IP or DNS name; empty: the name)", validators=[Optional(), Length(max=255), plain_text]
    )
    port = IntegerField("SSH port", validators=[Optional(), NumberRange(1, 65535)])
    user = StringField("SSH user", validators=[Optional(), Length(max=64), plain_text])
    variables = TextAreaField("Variables (YAML)")
    groups = SelectMultipleField("Groups", choices=[])

    def apply(self, host: Host) -> dict[str, object]:
        """Copy the form onto the host; return what the audit log should record."""
        host.name, host.address, host.port = self.name.data, self.address.data or None, self.port.data
        host.user, host.variables = self.user.data or None, self.parsed_variables
        host.groups = [g for g in (group_by_name(n) for n in self.groups.data) if g]
        return {"groups": self.groups.data}


class GroupForm(VariablesMixin, FlaskForm):
    """A group: name, variables, member hosts."""

    name = StringField(
        "Name",
        validators=[
            DataRequired(),
            Length(max=255),
            Regexp(GROUP_NAME_RE.pattern, message="Group names are letters, digits and _, not starting with a digit."),
        ],
    )
    variables = TextAreaField("Variables (YAML)")
    hosts = SelectMultipleField("Hosts", choices=[])

    def validate_name(self, field: StringField) -> None:
        """Ansible defines these two itself."""
        if field.data in ("all", "ungrouped"):
            raise ValidationError("“all” and “ungrouped” are Ansible's own groups.")

    def apply(self, group: Group) -> dict[str, object]:
        """Copy the form onto the group; return what the audit log should record."""
        group.name, group.variables = self.name.data, self.parsed_variables
        group.hosts = [h for h in (host_by_name(n) for n in self.hosts.data) if h]
        return {"hosts": self.hosts.data}


class ImportForm(FlaskForm):
    """An Ansible inventory, pasted or uploaded, INI or YAML."""

    text = TextAreaField("Inventory (INI or YAML)")
    upload = FileField("…or upload a file")
    filename = StringField("Format hint", default="hosts", validators=[Optional(), Length(max=255), plain_text])

    def inventory_text(self) -> tuple[str, str]:
        """The inventory's text and a file name that hints its format."""
        if self.upload.data and getattr(self.upload.data, "filename", ""):
            raw = self.upload.data.read(1_000_001)
            if len(raw) > 1_000_000:
                raise ValidationError("That file is over 1 MB; is it really an inventory?")
            return raw.decode("utf-8", errors="replace"), self.upload.data.filename
        return self.text.data or "", "hosts"
