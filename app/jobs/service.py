"""Submitting, queueing, cancelling and relaunching jobs (web side)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.jobs.state import request_cancel, transition, waiting_job_ids
from app.models.audit import audit
from app.models.job import FAILED, QUEUED, Job, JobTarget
from app.timeutil import utcnow

# kind -> (Celery task name, queue)
TASKS = {
    "playbook": ("app.tasks.ansible.run_playbook", "ansible"),
    "vm": ("app.tasks.vms.run_vm_action", "vms"),
}
# Celery's own soft limit is a backstop behind the job's clean stop at its soft limit.
SOFT_LIMIT_GRACE = 30


def submit(job: Job, reason: str | None = None) -> bool:
    """Record the job and commit it, then queue its id; False when the broker refused it."""
    db.session.add(job)
    db.session.flush()
    audit("job.submit", target=f"job #{job.id}", reason=reason, kind=job.kind, name=job.name)
    db.session.commit()
    return enqueue(job.id)


def enqueue(job_id: int) -> bool:
    """Send the job's id to its queue; if the broker is unreachable, the job fails with the reason."""
    job = db.session.get(Job, job_id)
    task_name, queue = TASKS[job.kind]
    queue = job.params.get("queue") or queue
    celery = current_app.extensions["celery"]
    try:
        # SQL holds the outcome; asking for a Celery result would also block on a dead backend.
        result = celery.send_task(
            task_name,
            args=[job_id],
            queue=queue,
            ignore_result=True,
            soft_time_limit=job.soft_time_limit + SOFT_LIMIT_GRACE,
            time_limit=max(job.time_limit, job.soft_time_limit + 2 * SOFT_LIMIT_GRACE),
        )
    except Exception as exc:  # kombu/redis raise many types for "cannot reach the broker"
        current_app.logger.warning("could not queue job %s: %s", job_id, exc)
        transition(
            job_id,
            (QUEUED,),
            FAILED,
            finished_at=utcnow(),
            error=f"Could not queue the job: the broker did not answer ({type(exc).__name__}: {exc}).",
        )
        db.session.commit()
        return False
    db.session.execute(sa.update(Job).where(Job.id == job_id).values(task_id=result.id))
    db.session.commit()
    return True


def kick_waiting() -> int:
    """Queue every waiting job again so each retries its locks; returns how many were sent."""
    return sum(enqueue(job_id) for job_id in waiting_job_ids())


def cancel(job: Job, by: str, reason: str | None = None) -> str | None:
    """Cancel a job and audit it: 'canceled', 'stopping', or None when it had already ended."""
    outcome = request_cancel(job.id, by)
    if outcome:
        audit("job.cancel", target=f"job #{job.id}", reason=reason, outcome=outcome)
    db.session.commit()
    return outcome


def copy_job(job: Job, by_id: int | None, by: str, **param_changes: object) -> Job:
    """A new queued job with the same kind, targets and parameters (plus changes)."""
    params = {**job.params, **param_changes}
    clone = Job(
        kind=job.kind,
        name=job.name,
        params=params,
        created_by_id=by_id,
        created_by=by,
        allow_concurrent=job.allow_concurrent,
        soft_time_limit=job.soft_time_limit,
        time_limit=job.time_limit,
        relaunch_of_id=job.id,
    )
    clone.targets = [JobTarget(kind=t.kind, name=t.name) for t in job.targets]
    return clone
