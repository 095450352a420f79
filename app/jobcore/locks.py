"""Target locks: one active job per host or VM; the lock table's primary key makes a lock exclusive."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models.job import Job, TargetLock


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


def locked_keys() -> set[str]:
    """Every lock key held right now ('vm:local/web-01', 'host:web-01')."""
    return set(db.session.scalars(sa.select(TargetLock.key)))
