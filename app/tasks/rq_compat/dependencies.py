"""Jobs waiting for other jobs: deferring them at enqueue time, and releasing them when their parents end."""

from __future__ import annotations

from typing import TYPE_CHECKING

from redis import WatchError

from app.tasks.rq_compat import enqueueing
from app.tasks.rq_compat.options import JobStatus
from app.tasks.rq_compat.utils import as_text

if TYPE_CHECKING:
    from redis.client import Pipeline

    from app.tasks.rq_compat.job import Job


def setup_dependencies(job: Job, pipeline: Pipeline | None = None) -> Job:
    """Defer the job (and register it with each dependency) while any dependency has not finished."""
    if not job._dependency_ids:
        return job
    original = job.get_status(refresh=False)
    pipe = pipeline if pipeline is not None else job.connection.pipeline()
    while True:
        try:
            pipe.watch(job.dependencies_key)
            dependencies = job.fetch_dependencies(watch=True, pipeline=pipe)
            pipe.multi()
            if all(dep.get_status(refresh=False) == JobStatus.FINISHED for dep in dependencies):
                return job
            _defer(job, pipe)
            if pipeline is None:
                pipe.execute()
            return job
        except WatchError:
            if pipeline is not None:
                raise
            job._status = original
        finally:
            if pipeline is None:
                pipe.reset()


def _defer(job: Job, pipe: Pipeline) -> None:
    """In the open MULTI: the job waits in the deferred registry."""
    job.set_status(JobStatus.DEFERRED, pipeline=pipe)
    job.register_dependency(pipeline=pipe)
    job.save(pipeline=pipe)
    job.cleanup(ttl=job.ttl, pipeline=pipe)


def ready_dependents(
    job: Job, pipe: Pipeline, exclude_job_id: str | None = None, refresh_job_status: bool = True
) -> tuple[list[Job], set[str]]:
    """Dependents of `job` whose dependencies are now met (WATCHing what was read), and all dependent ids."""
    ids = {as_text(job_id) for job_id in pipe.smembers(job.dependents_key)}
    ready = [
        dependent
        for dependent in type(job).fetch_many(ids, connection=job.connection, serializer=job.serializer)
        if dependent
        and dependent.dependencies_are_met(
            parent_job=job, pipeline=pipe, exclude_job_id=exclude_job_id, refresh_job_status=refresh_job_status
        )
        and dependent.get_status(refresh=False) != JobStatus.CANCELED
    ]
    return ready, ids


def stage_dependents(job: Job, ready: list[Job], all_ids: set[str], pipe: Pipeline) -> dict[str, list[str]]:
    """In the open MULTI: move the ready dependents from deferred to their own queues; {queue: [ids]}."""
    moved: dict[str, list[str]] = {}
    for dependent in ready:
        enqueueing.enqueue(dependent, dependent.origin, pipeline=pipe, at_front=dependent.enqueue_at_front or False)
        moved.setdefault(dependent.origin, []).append(dependent.id)
    if ready and len(ready) == len(all_ids):
        pipe.delete(job.dependents_key)
    elif ready:
        pipe.srem(job.dependents_key, *[dependent.id for dependent in ready])
    return moved


def enqueue_dependents(
    job: Job, exclude_job_id: str | None = None, refresh_job_status: bool = True
) -> dict[str, list[str]]:
    """Queue every dependent of `job` whose dependencies are met (WATCH/MULTI/EXEC); {queue: [ids]}."""
    with job.connection.pipeline() as pipe:
        while True:
            try:
                pipe.watch(job.dependents_key)
                ready, ids = ready_dependents(job, pipe, exclude_job_id, refresh_job_status)
                pipe.multi()
                moved = stage_dependents(job, ready, ids, pipe)
                pipe.execute()
                return moved
            except WatchError:
                continue
