"""Adding hypervisors (the Hypervisors page and `flask providers` share these)."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models.audit import Actor, audit
from app.models.vm import Provider
from app.services import Refused


def create_provider(name: str, uri: str, queue: str | None, actor: Actor) -> Provider:
    """A new hypervisor row; Refused when the name is taken."""
    if db.session.scalar(sa.select(Provider).where(Provider.name == name)):
        raise Refused("A hypervisor with that name exists.", field="name")
    provider = Provider(name=name, uri=uri, queue=queue or None)
    db.session.add(provider)
    audit("provider.create", actor, target=name, uri=uri, queue=queue or None)
    db.session.commit()
    return provider


def has_providers() -> bool:
    """True once at least one hypervisor is configured."""
    return bool(db.session.scalar(sa.select(sa.func.count()).select_from(Provider)))
