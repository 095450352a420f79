"""Recording how a run ended, with RQ's rules: status, registries, results, retries, released dependents.

Every write that ends a run is guarded: it happens only while the record still says `started` by this very
Celery message, so a stop, a cancel or a late duplicate can never be overwritten by a worker finishing late.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TypedDict, cast

from redis import WatchError

from app.tasks.rq_compat import dependencies, enqueueing, keys
from app.tasks.rq_compat.options import JobStatus, Retry
from app.tasks.rq_compat.results import Result
from app.tasks.rq_compat.utils import as_text, current_timestamp, now

if TYPE_CHECKING:
    from redis.client import Pipeline

    from app.tasks.rq_compat.job import Job

log = logging.getLogger(__name__)
DEFAULT_FAILURE_TTL = 365 * 24 * 3600


class Execution(TypedDict, total=False):
    """The result fields that describe one execution."""

    execution_id: str | None
    execution_started_at: datetime | None
    execution_ended_at: datetime | None


def score(ttl: int) -> int | str:
    """A registry entry's expiry score: now + ttl, or +inf for ttl -1 (never)."""
    if ttl == -1:
        return "+inf"
    return ttl if ttl < 0 else current_timestamp() + ttl


def add_failed(job: Job, ttl: int | None, exc_string: str, pipe: Pipeline) -> None:
    """Into the failed registry, the record living as long as the entry (RQ's FailedJobRegistry.add)."""
    ttl = DEFAULT_FAILURE_TTL if ttl is None else ttl
    job._exc_info = exc_string
    job.save(pipeline=pipe, include_meta=False, include_result=False)
    job.cleanup(ttl=ttl, pipeline=pipe)
    pipe.zadd(keys.registry_key("failed", job.origin), {job.id: score(ttl)})


def _execution(job: Job, dispatch_id: str | None) -> Execution:
    """Result fields describing this execution (none for an inline run)."""
    if dispatch_id is None:
        return Execution()
    return Execution(execution_id=dispatch_id, execution_started_at=job.started_at, execution_ended_at=job.ended_at)


def record_success(job: Job, result_ttl: int, pipe: Pipeline, worker_name: str, dispatch_id: str | None = None) -> None:
    """Status finished, the result stored, the finished registry (RQ's _handle_success)."""
    job.set_status(JobStatus.FINISHED, pipeline=pipe)
    job.save(pipeline=pipe, include_meta=False, include_result=False)
    if result_ttl != 0:
        Result.create(
            job,
            Result.Type.SUCCESSFUL,
            result_ttl,
            return_value=job._result,
            worker_name=worker_name,
            pipeline=pipe,
            **_execution(job, dispatch_id),
        )
        pipe.zadd(keys.registry_key("finished", job.origin), {job.id: score(result_ttl)})


def record_failure(job: Job, exc_string: str, pipe: Pipeline, worker_name: str, dispatch_id: str | None = None) -> None:
    """The failed registry and a failure result (RQ's _handle_failure)."""
    add_failed(job, job.failure_ttl, exc_string, pipe)
    Result.create_failure(
        job,
        job.failure_ttl,
        exc_string,
        worker_name=worker_name,
        pipeline=pipe,
        **_execution(job, dispatch_id),
    )


def _still_running(pipe: Pipeline, job: Job, dispatch_id: str) -> bool:
    """The guard: the record still says `started` by this message (read under WATCH)."""
    status, current = cast(list[bytes | None], pipe.hmget(job.key, ["status", "celery_task_id"]))
    return bool(status and current) and as_text(status) == "started" and as_text(current) == dispatch_id


def guarded(job: Job, dispatch_id: str, stage: Callable[[Pipeline], None], watch_dependents: bool = False) -> bool:
    """Run `stage(pipe)` in one MULTI if the job is still ours; retry on a concurrent change. False if not ours."""
    with job.connection.pipeline() as pipe:
        while True:
            try:
                pipe.watch(job.key, *([job.dependents_key] if watch_dependents else []))
                if not _still_running(pipe, job, dispatch_id):
                    log.info("RQ job %s was finalized elsewhere; outcome of %s dropped", job.id, dispatch_id)
                    return False
                stage(pipe)
                pipe.execute()
                return True
            except WatchError:
                continue


def _drop_execution(job: Job, dispatch_id: str, pipe: Pipeline) -> None:
    """The run's entry leaves the started registry."""
    pipe.zrem(keys.registry_key("started", job.origin), f"{job.id}:{dispatch_id}")


def finish_success(job: Job, worker_name: str, dispatch_id: str) -> bool:
    """Record success and queue the dependents that were waiting, in one transaction."""
    result_ttl = job.get_result_ttl(enqueueing.DEFAULT_RESULT_TTL)

    def stage(pipe: Pipeline) -> None:
        ready, ids = dependencies.ready_dependents(job, pipe, refresh_job_status=False)
        pipe.multi()
        dependencies.stage_dependents(job, ready, ids, pipe)
        if result_ttl != 0:
            record_success(job, result_ttl, pipe, worker_name, dispatch_id)
        job.cleanup(result_ttl, pipeline=pipe, remove_from_queue=False)
        _drop_execution(job, dispatch_id, pipe)

    return guarded(job, dispatch_id, stage, watch_dependents=True)


def finish_failure(job: Job, exc_string: str, worker_name: str, dispatch_id: str, stopped: bool = False) -> bool:
    """Record failure (or stop), or schedule the retry; then release dependents that allow failure."""
    retry = job.should_retry and not stopped

    def stage(pipe: Pipeline) -> None:
        pipe.multi()
        _drop_execution(job, dispatch_id, pipe)
        if retry:
            retry_job(job, pipe)
            return
        job.set_status(JobStatus.STOPPED if stopped else JobStatus.FAILED, pipeline=pipe)
        record_failure(job, exc_string, pipe, worker_name, dispatch_id)

    if not guarded(job, dispatch_id, stage):
        return False
    if not retry:
        dependencies.enqueue_dependents(job)
    return True


def retry_job(job: Job, pipe: Pipeline) -> None:
    """RQ's Job.retry (a raised exception, retry=Retry(...) given): one retry fewer; queue again or schedule."""
    interval = job.get_retry_interval()
    job.retries_left = (job.retries_left or 1) - 1
    _run_again(job, interval, job.enqueue_at_front_on_retry, pipe)


def _run_again(job: Job, interval: int, at_front: bool, pipe: Pipeline) -> None:
    """Queue the job again now, or schedule it `interval` seconds from now."""
    if interval:
        job._status = JobStatus.SCHEDULED
        enqueueing.schedule(job, now() + timedelta(seconds=interval), pipeline=pipe)
    else:
        enqueueing.enqueue(job, job.origin, pipeline=pipe, at_front=at_front)


def finish_retry_returned(job: Job, retry: Retry, worker_name: str, dispatch_id: str) -> bool:
    """The job returned Retry(...): a RETRIED result and another run, or MAX_RETRIES_EXCEEDED and failed (RQ 3)."""
    exceeded = bool(job.number_of_retries and job.number_of_retries >= retry.max)
    execution = _execution(job, dispatch_id)

    def stage(pipe: Pipeline) -> None:
        pipe.multi()
        _drop_execution(job, dispatch_id, pipe)
        if exceeded:
            job.set_status(JobStatus.FAILED, pipeline=pipe)
            add_failed(job, job.failure_ttl, "", pipe)
            Result.create_max_retries_exceeded(job, job.failure_ttl, retry, worker_name, pipeline=pipe, **execution)
            return
        Result.create_retried(job, job.failure_ttl, retry, worker_name, pipeline=pipe, **execution)
        _retry_returned(job, retry, pipe)

    if not guarded(job, dispatch_id, stage):
        return False
    if exceeded:
        dependencies.enqueue_dependents(job)
    return True


def _retry_returned(job: Job, retry: Retry, pipe: Pipeline) -> None:
    """RQ's _handle_retry_result: count the retry, then run again after the returned interval."""
    interval = Retry.get_interval(job.number_of_retries or 0, retry.intervals)
    job.number_of_retries = (job.number_of_retries or 0) + 1
    job.enqueue_at_front_on_retry = job.enqueue_at_front_on_retry or retry.enqueue_at_front
    _run_again(job, interval, job.enqueue_at_front_on_retry, pipe)
