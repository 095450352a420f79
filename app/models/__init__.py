"""All models, imported here so Alembic and the app see every table."""
from app.models.audit import AuditEvent
from app.models.user import ROLES, User

__all__ = ["AuditEvent", "ROLES", "User"]
