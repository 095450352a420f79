"""Guarded status transitions and target locks: the only code that changes a job's status."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.job import CANCELED, QUEUED, RUNNING, WAITING, Job, TargetLock
from app.timeutil import utcnow


def transition(job_id: int, allowed_from: Iterable[str], to: str, **values: Any) -> bool:
    """Move a job to `to` only if it is in one of `allowed_from` now; True when this call won."""
    result = db.session.execute(
        sa.update(Job)
        .where(Job.id == job_id, Job.status.in_(tuple(allowed_from)))
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def acquire_locks(job: Job) -> str | None:
    """Take every lock the job needs, or none; None on success, else who holds what."""
    keys = [] if job.allow_concurrent else job.lock_keys()
    if not keys:
        return None
    job_id = job.id
    holder = describe_holders(keys, job_id)
    if holder is not None:
        return holder
    try:
        db.session.add_all(TargetLock(key=key, job_id=job_id) for key in keys)
        db.session.flush()
        return None
    except IntegrityError:  # another worker took one of them between our check and our insert
        db.session.rollback()
        return describe_holders(keys, job_id) or "a target that was busy a moment ago"


def describe_holders(keys: list[str], job_id: int) -> str | None:
    """'web-01 (held by job #41)' for the first of `keys` another job holds."""
    row = db.session.execute(
        sa.select(TargetLock.key, TargetLock.job_id)
        .where(TargetLock.key.in_(keys), TargetLock.job_id != job_id)
        .order_by(TargetLock.key)
        .limit(1)
    ).first()
    return f"{row.key.split(':', 1)[1]} (held by job #{row.job_id})" if row else None


def release_locks(job_id: int) -> None:
    """Free every lock the job holds."""
    db.session.execute(sa.delete(TargetLock).where(TargetLock.job_id == job_id))


def begin_running(job: Job, worker: str) -> str:
    """Try to start a queued/waiting job: 'running', 'waiting', or 'skip' (canceled, done, or taken)."""
    if job.status not in (QUEUED, WAITING):
        return "skip"
    holder = acquire_locks(job)
    if holder is not None:
        waited = transition(job.id, (QUEUED, WAITING), WAITING, waiting_for=holder[:255])
        db.session.commit()
        return "waiting" if waited else "skip"
    now = utcnow()
    started = transition(
        job.id, (QUEUED, WAITING), RUNNING, started_at=now, heartbeat_at=now, worker=worker[:255], waiting_for=None
    )
    if started and not _cancel_requested(job.id):
        db.session.commit()
        return "running"
    db.session.rollback()  # gives the locks back
    return "skip"


def finish(job_id: int, status: str, **values: Any) -> bool:
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


def request_cancel(job_id: int, by: str) -> str | None:
    """Cancel a job: a queued/waiting one ends now, a running one is flagged for its worker."""
    if transition(job_id, (QUEUED, WAITING), CANCELED, cancel_requested=True, canceled_by=by, finished_at=utcnow()):
        return "canceled"
    if transition(job_id, (RUNNING,), RUNNING, cancel_requested=True, canceled_by=by):
        return "stopping"
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
    lost = [
        job_id
        for job_id in stale
        if transition(
            job_id,
            (RUNNING,),
            "lost",
            finished_at=utcnow(),
            error=f"No heartbeat from the worker for over {int(stale_after.total_seconds())} s: "
            "the worker stopped or lost its connection.",
        )
    ]
    for job_id in lost:
        release_locks(job_id)
    db.session.commit()
    return lost


def waiting_job_ids() -> list[int]:
    """Jobs waiting for a lock, oldest first."""
    return list(db.session.scalars(sa.select(Job.id).where(Job.status == WAITING).order_by(Job.id)))
