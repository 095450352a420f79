"""Reading jobs and their lines for the pages (SQL only)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import abort
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models.job import STATUSES, HostResult, Job, JobLine, JobTarget

FILTERS = ("status", "kind", "playbook", "host", "group", "user")


def get_job_or_404(job_id: int) -> Job:
    """The job with this id, or 404."""
    job = db.session.get(Job, job_id)
    if job is None:
        abort(404, description=f"There is no job #{job_id}.")
    return job


def lines_after(job_id: int, after: int, limit: int = 2000) -> list[JobLine]:
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
    if filters.get("status") in STATUSES:
        query = query.where(Job.status == filters["status"])
    if filters.get("kind"):
        query = query.where(Job.kind == filters["kind"])
    if filters.get("playbook"):
        query = query.where(Job.kind == "playbook", Job.name == filters["playbook"])
    if filters.get("user"):
        query = query.where(Job.created_by == filters["user"].strip().lower())
    for kind in ("host", "group"):
        if filters.get(kind):
            query = query.where(
                Job.id.in_(sa.select(JobTarget.job_id).where(JobTarget.kind == kind, JobTarget.name == filters[kind]))
            )
    return query
