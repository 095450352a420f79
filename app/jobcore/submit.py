"""Submitting, queueing, cancelling and copying jobs: the row is committed before its id is queued."""

from __future__ import annotations

import sqlalchemy as sa
from celery import Celery
from flask import current_app

from app.extensions import db
from app.jobcore.routing import TASK_FOR_KIND
from app.jobcore.status import CancelOutcome
from app.jobcore.transitions import fail_to_queue, request_cancel, waiting_job_ids
from app.models.audit import Actor, audit
from app.models.job import Job, JobTarget

# Celery's own time limits are a backstop behind the job's clean stop at its soft limit.
SOFT_LIMIT_GRACE = 30


def submit(job: Job, actor: Actor, reason: str | None = None) -> bool:
    """Record the job and commit it, then queue its id; False when the broker refused it."""
    db.session.add(job)
    db.session.flush()
    audit("job.submit", actor, target=f"job #{job.id}", reason=reason, kind=job.kind, name=job.name)
    db.session.commit()
    return enqueue(job.id)


def enqueue(job_id: int) -> bool:
    """Send the job's id to its queue; if the broker is unreachable, the job fails with the reason."""
    job = db.session.get(Job, job_id)
    if job is None:  # deleted meanwhile: nothing to send
        return False
    task_name, queue = TASK_FOR_KIND[job.kind]
    celery: Celery = current_app.extensions["celery"]
    try:
        # SQL holds the outcome; asking for a Celery result would also block on a dead backend.
        result = celery.send_task(
            task_name,
            args=[job_id],
            queue=job.params.get("queue") or queue,
            ignore_result=True,
            soft_time_limit=job.soft_time_limit + SOFT_LIMIT_GRACE,
            time_limit=max(job.time_limit, job.soft_time_limit + 2 * SOFT_LIMIT_GRACE),
        )
    except Exception as exc:  # kombu/redis raise many types for "cannot reach the broker"
        current_app.logger.warning("could not queue job %s: %s", job_id, exc)
        fail_to_queue(job_id, f"Could not queue the job: the broker did not answer ({type(exc).__name__}: {exc}).")
        return False
    db.session.execute(sa.update(Job).where(Job.id == job_id).values(task_id=result.id))
    db.session.commit()
    return True


def kick_waiting() -> int:
    """Queue every waiting job again so each retries its locks; returns how many were sent."""
    return sum(enqueue(job_id) for job_id in waiting_job_ids())


def cancel(job: Job, actor: Actor, reason: str | None = None) -> CancelOutcome | None:
    """Cancel a job and audit it: canceled, stopping, or None when it had already ended."""
    outcome = request_cancel(job.id, actor.name)
    if outcome:
        audit("job.cancel", actor, target=f"job #{job.id}", reason=reason, outcome=outcome)
    db.session.commit()
    return outcome


def copy_job(job: Job, actor: Actor, **param_changes: object) -> Job:
    """A new queued job with the same kind, targets and parameters (plus changes)."""
    clone = Job(
        kind=job.kind,
        name=job.name,
        params={**job.params, **param_changes},
        created_by_id=actor.id,
        created_by=actor.name,
        allow_concurrent=job.allow_concurrent,
        soft_time_limit=job.soft_time_limit,
        time_limit=job.time_limit,
        relaunch_of_id=job.id,
    )
    clone.targets = [JobTarget(kind=t.kind, name=t.name) for t in job.targets]
    return clone
