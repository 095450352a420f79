"""The audit log: who did what to which target, when, from where, and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import Model, db
from app.timeutil import utcnow


class AuditEvent(Model):
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


@dataclass(frozen=True)
class Actor:
    """Who did something: a user (with the address they came from), or a named part of the system."""

    name: str
    id: int | None = None
    address: str | None = None


SYSTEM = Actor("system")


def audit(action: str, actor: Actor, target: str = "", reason: str | None = None, **detail: Any) -> AuditEvent:
    """Add an audit row to the session; it commits with the change it describes."""
    event = AuditEvent(
        action=action,
        target=target[:255],  # a target can be something a user named (an uploaded file): keep what fits
        reason=reason or None,
        detail=detail,
        actor=actor.name,
        actor_id=actor.id,
        address=actor.address,
    )
    db.session.add(event)
    return event
