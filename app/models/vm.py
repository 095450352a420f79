"""Hypervisors (providers) and the virtual machines the dashboard manages on them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.jobcore.status import VMState
from app.models.types import StrEnumColumn, sql_in
from app.timeutil import utcnow


class Provider(Model):
    """A hypervisor connection: a libvirt URI (test:///default, qemu:///system, qemu+ssh://hv1/system)."""

    __tablename__ = "providers"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="libvirt")
    uri: Mapped[str] = mapped_column(sa.String(512))
    # Jobs for this provider's VMs go to this queue (a worker next to the hypervisor); empty: `vms`.
    queue: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    vms: Mapped[list[VM]] = relationship(back_populates="provider", order_by="VM.name")

    __table_args__ = (sa.CheckConstraint("kind IN ('libvirt')", name="kind_known"),)


class VM(Model):
    """A virtual machine: its size, its last seen state and the job that last touched it.

    The state changes only through app.jobcore.vmstate (guarded updates)."""

    __tablename__ = "vms"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(63))
    provider_id: Mapped[int] = mapped_column(sa.ForeignKey("providers.id", ondelete="RESTRICT"), index=True)
    vcpus: Mapped[int]
    memory_mib: Mapped[int]
    disk_gib: Mapped[int]
    image: Mapped[str | None] = mapped_column(sa.String(255))
    # The hypervisor's id for the domain, recorded at create: a job acts only on the domain it was made for.
    uuid: Mapped[str | None] = mapped_column(sa.String(36))
    state: Mapped[VMState] = mapped_column(StrEnumColumn(VMState), default=VMState.CREATING)
    state_reason: Mapped[str | None] = mapped_column(sa.Text)
    seen_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    last_job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jobs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    provider: Mapped[Provider] = relationship(back_populates="vms")

    __table_args__ = (
        sa.UniqueConstraint("provider_id", "name", name="uq_vms_provider_id_name"),
        sa.CheckConstraint(sql_in("state", VMState), name="state_known"),
    )

    @property
    def target(self) -> str:
        """The job target name (and lock key suffix) of this VM: provider/name."""
        return f"{self.provider.name}/{self.name}"
