"""Running a job on a worker and recording its outcome, with RQ's rules (status, registries, retries, callbacks).

Every write that ends a run is guarded: it happens only while the record still says `started` by this very
Celery message, so a stop, a cancel or a late duplicate can never be overwritten by a worker finishing late.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from redis import WatchError

from app.tasks.rq_compat import keys
from app.tasks.rq_compat.enqueueing import DEFAULT_RESULT_TTL, ready_dependents, stage_dependents
from app.tasks.rq_compat.exceptions import AbandonedJobError, JobTimeoutException, NoSuchJobError
from app.tasks.rq_compat.options import JobStatus
from app.tasks.rq_compat.results import Result
from app.tasks.rq_compat.utils import as_text, current_timestamp, now, utcformat

log = logging.getLogger(__name__)
STOPPED_TEXT = "Job stopped by user, work-horse terminated."

CLAIM = """
local status = redis.call("HGET", KEYS[1], "status")
if not status then return "missing" end
if redis.call("HGET", KEYS[1], "celery_task_id") ~= ARGV[1] then return "superseded" end
if status ~= "queued" and status ~= "scheduled" then return status end
if status == "scheduled" then redis.call("HSET", KEYS[1], "enqueued_at", ARGV[3]) end
redis.call("HSET", KEYS[1], "status", "started", "started_at", ARGV[3], "last_heartbeat", ARGV[3],
           "worker_name", ARGV[2])
redis.call("PERSIST", KEYS[1])
redis.call("LREM", KEYS[2], 1, ARGV[6])
redis.call("ZREM", KEYS[4], ARGV[6])
redis.call("ZADD", KEYS[3], ARGV[4], ARGV[5])
return "ok"
"""


def claim(connection: Any, job_id: str, origin: str, dispatch_id: str, worker_name: str, deadline: float | None) -> str:
    """queued/scheduled -> started, atomically, if this message is still the job's current one; 'ok' or why not."""
    score = current_timestamp() + int(deadline) + 60 if deadline else "+inf"
    outcome = connection.eval(
        CLAIM,
        4,
        keys.job_key(job_id),
        keys.queue_key(origin),
        keys.registry_key("started", origin),
        keys.registry_key("scheduled", origin),
        dispatch_id,
        worker_name,
        utcformat(now()),
        score,
        f"{job_id}:{dispatch_id}",
        job_id,
    )
    return as_text(outcome)


def perform_dispatch(
    connection: Any,
    job_id: str,
    dispatch_id: str,
    worker_name: str,
    limits: tuple[float | None, float | None],
    queue_name: str = "",
) -> Any:
    """Run the job a Celery message points at, unless it was canceled, deleted, or already ran."""
    # `limits` is the message's (hard, soft) pair: the hard one bounds the started-registry entry.
    from app.tasks.rq_compat.job import Job

    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:  # deleted, emptied, or its ttl ran out while queued: drop it like RQ's dequeue does
        log.info("RQ job %s no longer exists; message %s ignored", job_id, dispatch_id)
        if queue_name:
            connection.lrem(keys.queue_key(queue_name), 1, job_id)
        return None
    outcome = claim(connection, job_id, job.origin, dispatch_id, worker_name, limits[0])
    if outcome != "ok":
        log.info("RQ job %s not run by message %s: %s", job_id, dispatch_id, outcome)
        return None
    job.refresh()
    return execute(job, worker_name, dispatch_id, soft_limit=limits[1])


@contextmanager
def rq_timeouts(job: Any, soft_limit: float | None) -> Iterator[None]:
    """Celery's soft time limit surfaces as RQ's JobTimeoutException."""
    try:
        yield
    except SoftTimeLimitExceeded as exc:
        seconds = job.timeout if job.timeout and job.timeout > 0 else soft_limit
        raise JobTimeoutException(f"Task exceeded maximum timeout value ({seconds:g} seconds)") from exc


def execute(job: Any, worker_name: str, dispatch_id: str, soft_limit: float | None = None) -> Any:
    """Perform, run the callback, record: RQ's perform_job. Re-raises a failure so Celery (and Flower) see it."""
    from app.tasks.rq_compat.queue import Queue

    queue = Queue(job.origin, connection=job.connection, serializer=job.serializer)
    try:
        with rq_timeouts(job, soft_limit):
            value = job.perform()
            job.ended_at, job._status = now(), JobStatus.FINISHED
            run_callback(job, "success", value)
    except Exception:
        exc_info = sys.exc_info()
        job.ended_at, job._status = job.ended_at or now(), JobStatus.FAILED
        exc_string = "".join(traceback.format_exception(*exc_info))
        try:
            run_callback(job, "failure", *exc_info)
        except Exception:
            exc_string = "".join(traceback.format_exception(*sys.exc_info()))
        finish_failure(job, queue, exc_string, worker_name, dispatch_id)
        raise exc_info[1].with_traceback(exc_info[2])  # type: ignore[union-attr]  # noqa: B904 (the job's own error, as raised)
    finish_success(job, queue, worker_name, dispatch_id)
    return value


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Raise JobTimeoutException after `seconds` (SIGALRM, so only in a main thread, as RQ's death penalty)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise JobTimeoutException(f"Task exceeded maximum timeout value ({seconds} seconds)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_callback(job: Any, kind: str, *args: Any, enforce_timeout: bool = True) -> None:
    """Call the job's success/failure/stopped callback with RQ's arguments (job, connection, ...)."""
    callback = job.callback(kind)
    if callback is None:
        return
    if not enforce_timeout:
        callback(job, job.connection, *args)
        return
    with deadline(job.callback_timeout(kind)):
        callback(job, job.connection, *args)


def _still_running(pipe: Any, job: Any, dispatch_id: str) -> bool:
    """The guard: the record still says `started` by this message (read under WATCH)."""
    status, current = pipe.hmget(job.key, ["status", "celery_task_id"])
    return bool(status and current) and as_text(status) == "started" and as_text(current) == dispatch_id


def _execution(job: Any, dispatch_id: str) -> dict[str, Any]:
    """Result fields describing this execution."""
    return {"execution_id": dispatch_id, "execution_started_at": job.started_at, "execution_ended_at": job.ended_at}


def record_success(job: Any, result_ttl: int, pipe: Any, worker_name: str, dispatch_id: str | None = None) -> None:
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
            **(_execution(job, dispatch_id) if dispatch_id else {}),
        )
        job.finished_job_registry.add(job, result_ttl, pipe)


def record_failure(job: Any, exc_string: str, pipe: Any, worker_name: str, dispatch_id: str | None = None) -> None:
    """The failed registry and a failure result (RQ's _handle_failure)."""
    job.failed_job_registry.add(job, ttl=job.failure_ttl, exc_string=exc_string, pipeline=pipe)
    Result.create_failure(
        job,
        job.failure_ttl,
        exc_string,
        worker_name=worker_name,
        pipeline=pipe,
        **(_execution(job, dispatch_id) if dispatch_id else {}),
    )


def _guarded(job: Any, dispatch_id: str, stage: Any, watch_dependents: bool = False) -> bool:
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


def finish_success(job: Any, queue: Any, worker_name: str, dispatch_id: str) -> bool:
    """Record success and queue the dependents that were waiting, in one transaction."""
    result_ttl = job.get_result_ttl(DEFAULT_RESULT_TTL)

    def stage(pipe: Any) -> None:
        ready, ids = ready_dependents(queue, job, pipe, refresh_job_status=False)
        pipe.multi()
        stage_dependents(queue, job, ready, ids, pipe)
        if result_ttl != 0:
            record_success(job, result_ttl, pipe, worker_name, dispatch_id)
        job.cleanup(result_ttl, pipeline=pipe, remove_from_queue=False)
        pipe.zrem(queue.started_job_registry.key, f"{job.id}:{dispatch_id}")

    return _guarded(job, dispatch_id, stage, watch_dependents=True)


def finish_failure(
    job: Any, queue: Any, exc_string: str, worker_name: str, dispatch_id: str, stopped: bool = False
) -> bool:
    """Record failure (or stop), or schedule the retry; then release dependents that allow failure."""
    retry = job.should_retry and not stopped

    def stage(pipe: Any) -> None:
        pipe.multi()
        pipe.zrem(queue.started_job_registry.key, f"{job.id}:{dispatch_id}")
        if retry:
            retry_job(job, queue, pipe)
            return
        job.set_status(JobStatus.STOPPED if stopped else JobStatus.FAILED, pipeline=pipe)
        record_failure(job, exc_string, pipe, worker_name, dispatch_id)

    if not _guarded(job, dispatch_id, stage):
        return False
    if not retry:
        queue.enqueue_dependents(job)
    return True


def retry_job(job: Any, queue: Any, pipe: Any) -> None:
    """RQ's Job.retry: one retry fewer; queue again now, or schedule after the interval."""
    interval = job.get_retry_interval()
    job.retries_left = (job.retries_left or 1) - 1
    if interval:
        job._status = JobStatus.SCHEDULED
        queue.schedule_job(job, now() + timedelta(seconds=interval), pipeline=pipe)
    else:
        queue._enqueue_job(job, pipeline=pipe, at_front=job.enqueue_at_front_on_retry)


def finish_killed(connection: Any, job_id: str, dispatch_id: str, reason: str, detail: str) -> None:
    """After the worker killed a job (stop, hard time limit, lost child): record it as RQ would."""
    from app.tasks.rq_compat.queue import Queue

    job = _running_job(connection, job_id, dispatch_id)
    if job is None:
        return
    job.ended_at = now()
    queue = Queue(job.origin, connection=connection, serializer=job.serializer)
    if reason == "stopped":
        try:
            run_callback(job, "stopped")
        except Exception:
            log.exception("RQ job %s: error while executing stopped callback", job_id)
        finish_failure(job, queue, STOPPED_TEXT, job.worker_name or "", dispatch_id, stopped=True)
    else:
        finish_failure(job, queue, detail, job.worker_name or "", dispatch_id)


def abandon(connection: Any, job_id: str, dispatch_id: str, serializer: Any = None) -> None:
    """A started job whose deadline passed lost its worker: RQ's AbandonedJobError handling."""
    from app.tasks.rq_compat.queue import Queue

    job = _running_job(connection, job_id, dispatch_id, serializer)
    if job is None:
        return
    try:
        run_callback(job, "failure", AbandonedJobError, AbandonedJobError(), traceback.extract_stack())
    except Exception:
        log.exception("RQ job %s: error while executing failure callback", job_id)
    text = f"Moved to FailedJobRegistry, due to AbandonedJobError, at {now()}"
    finish_failure(job, Queue(job.origin, connection=connection), text, "", dispatch_id)


def _running_job(connection: Any, job_id: str, dispatch_id: str, serializer: Any = None) -> Any:
    """The job if it is still running under this message, else None."""
    from app.tasks.rq_compat.job import Job

    try:
        job = Job.fetch(job_id, connection=connection, serializer=serializer)
    except NoSuchJobError:
        return None
    if job.get_status(refresh=False) != JobStatus.STARTED or job.celery_task_id != dispatch_id:
        return None
    return job
