"""The audit log: who did what to which target, when, from where, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import utcnow


class AuditEvent(db.Model):
    """One state-changing action; rows are only ever added."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    # The name is kept as text so the record survives the user being deleted or renamed.
    actor: Mapped[str] = mapped_column(sa.String(64), index=True)
    action: Mapped[str] = mapped_column(sa.String(64), index=True)
    target: Mapped[str] = mapped_column(sa.String(255), default="")
    address: Mapped[str | None] = mapped_column(sa.String(64))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    detail: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)


def audit(
    action: str, target: str = "", reason: str | None = None, actor: str | None = None, **detail: Any
) -> AuditEvent:
    """Add an audit row to the session; it commits with the change it describes."""
    event = AuditEvent(action=action, target=target, reason=reason or None, detail=detail)
    if has_request_context():
        event.address = request.remote_addr
        if current_user.is_authenticated:
            event.actor_id, event.actor = current_user.id, current_user.username
    event.actor = actor or getattr(event, "actor", None) or "system"
    db.session.add(event)
    return event
