"""All models, imported here so Alembic and the app see every table."""

from app.models.audit import AuditEvent
from app.models.inventory import Group, Host
from app.models.job import HostResult, Job, JobLine, JobTarget, TargetLock
from app.models.user import ROLES, User
from app.models.vm import VM, Provider

__all__ = [
    "AuditEvent",
    "Group",
    "Host",
    "HostResult",
    "Job",
    "JobLine",
    "JobTarget",
    "ROLES",
    "TargetLock",
    "User",
    "VM",
    "Provider",
]
