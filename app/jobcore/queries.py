"""Reading jobs and their lines for the pages and the workers (SQL only)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.jobcore.status import ACTIVE, TERMINAL, JobKind, JobStatus
from app.models.job import HostResult, Job, JobLine, JobTarget

FILTERS = ("status", "kind", "playbook", "host", "group", "user")
# Lines sent per live-log poll: a poll that returns this many asks again at once for the rest.
POLL_BATCH = 2000


def lines_after(job_id: int, after: int, limit: int = POLL_BATCH) -> list[JobLine]:
    """Lines with seq > after, in order (at most `limit` per poll)."""
    return list(
        db.session.scalars(
            sa.select(JobLine).where(JobLine.job_id == job_id, JobLine.seq > after).order_by(JobLine.seq).limit(limit)
        )
    )


def lines_before(job_id: int, before: int | None, limit: int) -> tuple[list[JobLine], bool]:
    """The last `limit` lines before seq `before` (or the tail), in order, and whether more are earlier."""
    query = sa.select(JobLine).where(JobLine.job_id == job_id)
    if before is not None:
        query = query.where(JobLine.seq < before)
    rows = list(db.session.scalars(query.order_by(JobLine.seq.desc()).limit(limit + 1)))
    more = len(rows) > limit
    return list(reversed(rows[:limit])), more


def failed_hosts(job_id: int) -> list[str]:
    """Hosts that failed or were unreachable in this run."""
    return list(
        db.session.scalars(
            sa.select(HostResult.host)
            .where(HostResult.job_id == job_id, (HostResult.failed > 0) | (HostResult.unreachable > 0))
            .order_by(HostResult.host)
        )
    )


def history_query(filters: dict[str, str]) -> sa.Select[Any]:
    """Jobs newest first, narrowed by the history page's filters."""
    # the rows show each job's targets: load them in one query per page, not one per row
    query = sa.select(Job).options(selectinload(Job.targets)).order_by(Job.id.desc())
    if filters.get("status") in frozenset(JobStatus):
        query = query.where(Job.status == filters["status"])
    if filters.get("kind") in frozenset(JobKind):
        query = query.where(Job.kind == filters["kind"])
    if filters.get("playbook"):
        query = query.where(Job.kind == JobKind.PLAYBOOK, Job.name == filters["playbook"])
    if filters.get("user"):
        query = query.where(Job.created_by == filters["user"].strip().lower())
    for kind in ("host", "group"):
        if filters.get(kind):
            query = query.where(
                Job.id.in_(sa.select(JobTarget.job_id).where(JobTarget.kind == kind, JobTarget.name == filters[kind]))
            )
    return query


def active_jobs() -> list[Job]:
    """Every queued, waiting or running job, newest first."""
    return list(db.session.scalars(sa.select(Job).where(Job.status.in_(sorted(ACTIVE))).order_by(Job.id.desc())))


def recent_finished_jobs(limit: int) -> list[Job]:
    """The newest jobs that have ended."""
    query = sa.select(Job).where(Job.status.in_(sorted(TERMINAL))).order_by(Job.id.desc()).limit(limit)
    return list(db.session.scalars(query))


def jobs_for_target(kind: str, name: str, limit: int) -> list[Job]:
    """The newest jobs acting on one host, group or VM."""
    query = sa.select(Job).join(JobTarget).where(JobTarget.kind == kind, JobTarget.name == name)
    return list(db.session.scalars(query.order_by(Job.id.desc()).limit(limit)))


def runs_of_playbook(name: str, limit: int) -> list[Job]:
    """The newest runs of one playbook."""
    query = sa.select(Job).where(Job.kind == JobKind.PLAYBOOK, Job.name == name)
    return list(db.session.scalars(query.order_by(Job.id.desc()).limit(limit)))


def targets_with_active_jobs(kind: str, names: Iterable[str] | None = None) -> set[str]:
    """Names of targets of one kind that a queued, waiting or running job acts on."""
    query = sa.select(JobTarget.name).join(Job).where(JobTarget.kind == kind, Job.status.in_(sorted(ACTIVE)))
    if names is not None:
        query = query.where(JobTarget.name.in_(list(names)))
    return set(db.session.scalars(query))


def is_poll_batch_full(lines: list[JobLine]) -> bool:
    """True when a poll returned a full batch, so more lines may be waiting."""
    return len(lines) >= POLL_BATCH
