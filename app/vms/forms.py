"""VM and provider forms, validated before any job exists."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from app.requests import REASON_VALIDATORS, plain_text

VM_NAME = r"^[a-z][a-z0-9-]{0,61}[a-z0-9]$"


class VMCreateForm(FlaskForm):
    """A new VM: name, provider, size, image."""

    name = StringField(
        "Name",
        validators=[
            DataRequired(),
            Regexp(
                VM_NAME,
                message="2–63 characters: lowercase letters, digits and '-', starting with a letter, "
                "not ending with '-'.",
            ),
        ],
    )
    provider = SelectField("Hypervisor", choices=[])
    vcpus = IntegerField("vCPUs", default=1, validators=[InputRequired(), NumberRange(1, 64)])
    memory_mib = IntegerField("Memory (MiB)", default=1024, validators=[InputRequired(), NumberRange(128, 262144)])
    disk_gib = IntegerField("Disk (GiB)", default=10, validators=[InputRequired(), NumberRange(1, 4096)])
    image = StringField(
        "Base image (volume name in the pool; empty: blank disk)", validators=[Optional(), Length(max=255), plain_text]
    )
    reason = StringField("Reason (for the audit log)", validators=REASON_VALIDATORS)


class ActionForm(FlaskForm):
    """The confirmation step of a VM action."""

    reason = StringField("Reason (for the audit log)", validators=REASON_VALIDATORS)


class ProviderForm(FlaskForm):
    """A hypervisor connection."""

    name = StringField(
        "Name",
        validators=[DataRequired(), Regexp(r"^[a-z][a-z0-9-]{0,63}$", message="Lowercase letters, digits and '-'.")],
    )
    uri = StringField(
        "libvirt URI",
        validators=[
            DataRequired(),
            Length(max=512),
            plain_text,
            Regexp(r"^[a-z0-9+]+://", message="A libvirt URI such as qemu:///system or qemu+ssh://hv1/system."),
        ],
    )
    queue = StringField(
        "Queue (empty: vms)",
        validators=[Optional(), Regexp(r"^[A-Za-z0-9_.-]{1,64}$", message="Letters, digits, '_', '.' and '-'.")],
    )
