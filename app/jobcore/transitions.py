"""Guarded status transitions: the only code that changes a job's status.

Each change is an `UPDATE ... WHERE status IN (...)` whose row count says whether this caller won, so a late
worker never overwrites a cancel; the edges themselves are checked against `TRANSITIONS`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult

from app.extensions import db
from app.jobcore.locks import acquire_locks, release_locks
from app.jobcore.status import CancelOutcome, JobStatus, StartOutcome, check_edges
from app.models.job import Job
from app.timeutil import utcnow

QUEUED, WAITING, RUNNING = JobStatus.QUEUED, JobStatus.WAITING, JobStatus.RUNNING


def transition(job_id: int, allowed_from: Iterable[JobStatus], to: JobStatus, **values: Any) -> bool:
    """Move a job to `to` only if it is in one of `allowed_from` now; True when this call won."""
    sources = frozenset(allowed_from)
    check_edges(sources, to)
    result = cast(
        CursorResult[Any],  # an UPDATE's result, which has a row count
        db.session.execute(
            sa.update(Job)
            .where(Job.id == job_id, Job.status.in_(sorted(sources)))
            .values(status=to, **values)
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount == 1


def begin_running(job: Job, worker: str) -> StartOutcome:
    """Try to start a queued/waiting job: running, waiting (for a lock), or skipped."""
    if job.status not in (QUEUED, WAITING):
        return StartOutcome.SKIPPED
    holder = acquire_locks(job)
    if holder is not None:
        waited = transition(job.id, (QUEUED, WAITING), WAITING, waiting_for=holder[:255])
        db.session.commit()
        return StartOutcome.WAITING if waited else StartOutcome.SKIPPED
    now = utcnow()
    started = transition(
        job.id, (QUEUED, WAITING), RUNNING, started_at=now, heartbeat_at=now, worker=worker[:255], waiting_for=None
    )
    if started and not _cancel_requested(job.id):
        db.session.commit()
        return StartOutcome.RUNNING
    db.session.rollback()  # gives the locks back
    return StartOutcome.SKIPPED


def finish(job_id: int, status: JobStatus, **values: Any) -> bool:
    """End a running job with a final status and free its locks; False if it was no longer running."""
    ended = transition(job_id, (RUNNING,), status, finished_at=utcnow(), **values)
    release_locks(job_id)
    db.session.commit()
    return ended


def requeue(job_id: int) -> bool:
    """Put a running job back to queued (for a retry) and free its locks."""
    requeued = transition(job_id, (RUNNING,), QUEUED, worker=None)
    release_locks(job_id)
    db.session.commit()
    return requeued


def fail_to_queue(job_id: int, error: str) -> bool:
    """A job the broker would not take: failed at once, with the reason."""
    failed = transition(job_id, (QUEUED,), JobStatus.FAILED, finished_at=utcnow(), error=error)
    db.session.commit()
    return failed


def request_cancel(job_id: int, by: str) -> CancelOutcome | None:
    """Cancel a job: a queued/waiting one ends now, a running one is flagged for its worker."""
    if transition(
        job_id, (QUEUED, WAITING), JobStatus.CANCELED, cancel_requested=True, canceled_by=by, finished_at=utcnow()
    ):
        return CancelOutcome.CANCELED
    if transition(job_id, (RUNNING,), RUNNING, cancel_requested=True, canceled_by=by):
        return CancelOutcome.STOPPING
    return None


def _cancel_requested(job_id: int) -> bool:
    """Read the cancel flag straight from the database."""
    return bool(db.session.scalar(sa.select(Job.cancel_requested).where(Job.id == job_id)))


def cancel_requested(job_id: int) -> bool:
    """Has someone asked this running job to stop? (Polled by the worker.)"""
    flag = _cancel_requested(job_id)
    db.session.commit()  # end the read transaction so the next poll sees fresh data
    return flag


def heartbeat(job_id: int) -> None:
    """Record that the job's worker is alive."""
    db.session.execute(sa.update(Job).where(Job.id == job_id, Job.status == RUNNING).values(heartbeat_at=utcnow()))
    db.session.commit()


def mark_lost(stale_after: timedelta) -> list[int]:
    """End running jobs whose heartbeat stopped: status lost, locks freed. Returns their ids."""
    cutoff = utcnow() - stale_after
    stale = db.session.scalars(sa.select(Job.id).where(Job.status == RUNNING, Job.heartbeat_at < cutoff)).all()
    error = (
        f"No heartbeat from the worker for over {int(stale_after.total_seconds())} s: "
        "the worker stopped or lost its connection."
    )
    lost = [
        job_id for job_id in stale if transition(job_id, (RUNNING,), JobStatus.LOST, finished_at=utcnow(), error=error)
    ]
    for job_id in lost:
        release_locks(job_id)
    db.session.commit()
    return lost


def waiting_job_ids() -> list[int]:
    """Jobs waiting for a lock, oldest first."""
    return list(db.session.scalars(sa.select(Job.id).where(Job.status == WAITING).order_by(Job.id)))
