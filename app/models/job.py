"""One job table for all background work, its log lines, per-host results and target locks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import Model
from app.jobcore.status import ACTIVE, JobKind, JobStatus
from app.models.types import StrEnumColumn, sql_in
from app.timeutil import as_utc, utcnow

# Target kinds that take a lock: one active job per host and per VM.
LOCKED_TARGET_KINDS = ("host", "vm")


class Job(Model):
    """A unit of background work; status changes only through guarded updates (app.jobcore.transitions)."""

    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[JobKind] = mapped_column(StrEnumColumn(JobKind), index=True)
    name: Mapped[str] = mapped_column(sa.String(255))  # what it runs: a playbook path, "restart vm-1"...
    status: Mapped[JobStatus] = mapped_column(StrEnumColumn(JobStatus), default=JobStatus.QUEUED, index=True)
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_by: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    canceled_by: Mapped[str | None] = mapped_column(sa.String(64))
    allow_concurrent: Mapped[bool] = mapped_column(default=False)
    waiting_for: Mapped[str | None] = mapped_column(sa.String(255))
    soft_time_limit: Mapped[int]
    time_limit: Mapped[int]
    task_id: Mapped[str | None] = mapped_column(sa.String(64))
    worker: Mapped[str | None] = mapped_column(sa.String(255))
    rc: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(sa.Text)
    relaunch_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jobs.id", ondelete="SET NULL"))
    targets: Mapped[list[JobTarget]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="JobTarget.id"
    )
    host_results: Mapped[list[HostResult]] = relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="HostResult.host"
    )

    __table_args__ = (
        sa.CheckConstraint(sql_in("status", JobStatus), name="status_known"),
        sa.CheckConstraint(sql_in("kind", JobKind), name="kind_known"),
    )

    @property
    def active(self) -> bool:
        """True while the job is queued, waiting or running."""
        return self.status in ACTIVE

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (or to now while running)."""
        if self.started_at is None:
            return None
        end = self.finished_at or utcnow()
        return (as_utc(end) - as_utc(self.started_at)).total_seconds()

    def target_names(self, kind: str) -> list[str]:
        """Names of this job's targets of one kind ('host', 'group', 'vm')."""
        return [t.name for t in self.targets if t.kind == kind]

    def lock_keys(self) -> list[str]:
        """The lock keys this job needs: one per host or VM it touches."""
        return sorted({f"{t.kind}:{t.name}" for t in self.targets if t.kind in LOCKED_TARGET_KINDS})


class JobTarget(Model):
    """A host, group or VM a job acts on (for filters and locks)."""

    __tablename__ = "job_targets"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    name: Mapped[str] = mapped_column(sa.String(255))
    job: Mapped[Job] = relationship(back_populates="targets")

    __table_args__ = (sa.Index("ix_job_targets_kind_name", "kind", "name"),)


class JobLine(Model):
    """One piece of a job's output, in order: seq is per job and strictly increasing."""

    __tablename__ = "job_lines"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"))
    seq: Mapped[int]
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    event: Mapped[str] = mapped_column(sa.String(64), default="")
    host: Mapped[str | None] = mapped_column(sa.String(255))
    task: Mapped[str | None] = mapped_column(sa.Text)
    text: Mapped[str] = mapped_column(sa.Text, default="")
    failed: Mapped[bool] = mapped_column(default=False)

    __table_args__ = (sa.UniqueConstraint("job_id", "seq", name="uq_job_lines_job_id_seq"),)


class HostResult(Model):
    """Ansible's per-host counts at the end of a playbook run."""

    __tablename__ = "host_results"
    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    host: Mapped[str] = mapped_column(sa.String(255))
    ok: Mapped[int] = mapped_column(default=0)
    changed: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    unreachable: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    rescued: Mapped[int] = mapped_column(default=0)
    ignored: Mapped[int] = mapped_column(default=0)
    job: Mapped[Job] = relationship(back_populates="host_results")

    @property
    def bad(self) -> bool:
        """True when the host failed or was unreachable."""
        return bool(self.failed or self.unreachable)


class TargetLock(Model):
    """Held by the one active job on a target (host or VM); the primary key makes it exclusive."""

    __tablename__ = "target_locks"
    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    job_id: Mapped[int] = mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    acquired_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
