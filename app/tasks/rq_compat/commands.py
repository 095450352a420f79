"""Module-level helpers of RQ's API: cancel_job, requeue_job, send_stop_job_command."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.tasks.rq_compat import state
from app.tasks.rq_compat.exceptions import InvalidJobOperation
from app.tasks.rq_compat.job import Job

if TYPE_CHECKING:
    from redis import Redis

    from app.tasks.rq_compat.utils import Serializer

STOP_SIGNAL = "SIGKILL"  # what RQ sends its work horse


def cancel_job(
    job_id: str, connection: Redis, serializer: Serializer | str | None = None, enqueue_dependents: bool = False
) -> None:
    """Cancel a job by id: if it is still queued, it never runs."""
    Job.fetch(job_id, connection=connection, serializer=serializer).cancel(enqueue_dependents=enqueue_dependents)


def requeue_job(job_id: str, connection: Redis, serializer: Serializer | str | None = None) -> Job:
    """Put a failed job back on its queue."""
    return Job.fetch(job_id, connection=connection, serializer=serializer).requeue()


def send_stop_job_command(connection: Redis, job_id: str, serializer: Serializer | str | None = None) -> None:
    """Stop a running job: Celery kills the pool process running it; the job ends as `stopped`."""
    job = Job.fetch(job_id, connection=connection, serializer=serializer)
    if not job.worker_name:
        raise InvalidJobOperation("Job is not currently executing")
    if job.celery_task_id:
        state.publisher(connection).control.revoke(job.celery_task_id, terminate=True, signal=STOP_SIGNAL)
