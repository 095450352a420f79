"""Running a job: on a worker for a Celery message, inline for is_async=False, and after the pool killed it.

The one place a job's function is called. How each run ends is recorded by outcomes.py.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from celery.exceptions import SoftTimeLimitExceeded

from app.tasks.rq_compat import keys, outcomes
from app.tasks.rq_compat.enqueueing import DEFAULT_RESULT_TTL
from app.tasks.rq_compat.exceptions import AbandonedJobError, JobTimeoutException, NoSuchJobError
from app.tasks.rq_compat.options import JobStatus, Retry
from app.tasks.rq_compat.utils import Serializer, as_text, current_timestamp, now, utcformat

if TYPE_CHECKING:
    from redis import Redis

    from app.tasks.rq_compat.job import Job

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


def claim(
    connection: Redis, job_id: str, origin: str, dispatch_id: str, worker_name: str, deadline: float | None
) -> str:
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
    connection: Redis,
    job_class: type[Job],
    job_id: str,
    dispatch_id: str,
    worker_name: str,
    limits: tuple[float | None, float | None],
    queue_name: str = "",
) -> Any:
    """Run the job a Celery message points at, unless it was canceled, deleted, or already ran."""
    # `limits` is the message's (hard, soft) pair: the hard one bounds the started-registry entry.
    try:
        job = job_class.fetch(job_id, connection=connection)
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
def rq_timeouts(job: Job, soft_limit: float | None) -> Iterator[None]:
    """Celery's soft time limit surfaces as RQ's JobTimeoutException."""
    try:
        yield
    except SoftTimeLimitExceeded as exc:
        seconds = job.timeout if job.timeout and job.timeout > 0 else soft_limit
        raise JobTimeoutException(f"Task exceeded maximum timeout value ({seconds:g} seconds)") from exc


def execute(job: Job, worker_name: str, dispatch_id: str, soft_limit: float | None = None) -> Any:
    """Perform, run the callback, record: RQ's perform_job. Re-raises a failure so Celery (and Flower) see it."""
    try:
        with rq_timeouts(job, soft_limit):
            value = job.perform()
            job.ended_at = now()
            if isinstance(value, Retry):  # no success callback for a retry, as in RQ
                outcomes.finish_retry_returned(job, value, worker_name, dispatch_id)
                return value
            job._status = JobStatus.FINISHED
            run_callback(job, "success", value)
    except Exception:
        _fail(job, worker_name, dispatch_id)
        raise  # the job's own error, so Celery (and Flower) see it
    outcomes.finish_success(job, worker_name, dispatch_id)
    return value


def _fail(job: Job, worker_name: str, dispatch_id: str) -> None:
    """Inside `except`: run the failure callback, then record the failure (or the retry)."""
    exc_info = sys.exc_info()
    job.ended_at, job._status = job.ended_at or now(), JobStatus.FAILED
    exc_string = "".join(traceback.format_exception(*exc_info))
    try:
        run_callback(job, "failure", *exc_info)
    except Exception:
        exc_string = "".join(traceback.format_exception(*sys.exc_info()))
    outcomes.finish_failure(job, exc_string, worker_name, dispatch_id)


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Raise JobTimeoutException after `seconds` (SIGALRM, so only in a main thread, as RQ's death penalty)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise JobTimeoutException(f"Task exceeded maximum timeout value ({seconds} seconds)")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_callback(job: Job, kind: str, *args: Any, enforce_timeout: bool = True) -> None:
    """Call the job's success/failure/stopped callback with RQ's arguments (job, connection, ...)."""
    callback = job.callback(kind)
    if callback is None:
        return
    if not enforce_timeout:
        callback(job, job.connection, *args)
        return
    with deadline(job.callback_timeout(kind)):
        callback(job, job.connection, *args)


def run_sync(job: Job) -> Job:
    """is_async=False: run the job in this process, recording the outcome like a worker would."""
    _start_inline(job)
    try:
        job.perform()
        job.ended_at = now()
        result_ttl = job.get_result_ttl(DEFAULT_RESULT_TTL)
        with job.connection.pipeline() as pipe:
            outcomes.record_success(job, result_ttl, pipe, worker_name="")
            job.cleanup(result_ttl, pipeline=pipe)
            pipe.execute()
    except Exception:
        exc_info = sys.exc_info()
        with job.connection.pipeline() as pipe:
            job.set_status(JobStatus.FAILED, pipeline=pipe)
            outcomes.record_failure(job, "".join(traceback.format_exception(*exc_info)), pipe, worker_name="")
            pipe.execute()
        run_callback(job, "failure", *exc_info, enforce_timeout=False)
    else:
        run_callback(job, "success", job.return_value(), enforce_timeout=False)
    return job


def _start_inline(job: Job) -> None:
    """Mark an inline run started, as a worker's claim would."""
    job.worker_name, job.started_at = "sync", now()
    job.last_heartbeat, job._status = job.started_at, JobStatus.STARTED
    stamp = utcformat(job.started_at)
    with job.connection.pipeline() as pipe:
        pipe.hset(
            job.key, mapping={"last_heartbeat": stamp, "status": "started", "worker_name": "sync", "started_at": stamp}
        )
        pipe.persist(job.key)
        pipe.execute()


def finish_killed(
    connection: Redis, job_class: type[Job], job_id: str, dispatch_id: str, reason: str, detail: str
) -> None:
    """After the worker killed a job (stop, hard time limit, lost child): record it as RQ would."""
    job = _running_job(connection, job_class, job_id, dispatch_id)
    if job is None:
        return
    job.ended_at = now()
    if reason != "stopped":
        outcomes.finish_failure(job, detail, job.worker_name or "", dispatch_id)
        return
    try:
        run_callback(job, "stopped")
    except Exception:
        log.exception("RQ job %s: error while executing stopped callback", job_id)
    outcomes.finish_failure(job, STOPPED_TEXT, job.worker_name or "", dispatch_id, stopped=True)


def abandon(
    connection: Redis, job_class: type[Job], job_id: str, dispatch_id: str, serializer: Serializer | None = None
) -> None:
    """A started job whose deadline passed lost its worker: RQ's AbandonedJobError handling."""
    job = _running_job(connection, job_class, job_id, dispatch_id, serializer)
    if job is None:
        return
    try:
        run_callback(job, "failure", AbandonedJobError, AbandonedJobError(), traceback.extract_stack())
    except Exception:
        log.exception("RQ job %s: error while executing failure callback", job_id)
    text = f"Moved to FailedJobRegistry, due to AbandonedJobError, at {now()}"
    outcomes.finish_failure(job, text, "", dispatch_id)


def _running_job(
    connection: Redis, job_class: type[Job], job_id: str, dispatch_id: str, serializer: Serializer | None = None
) -> Job | None:
    """The job if it is still running under this message, else None."""
    try:
        job = job_class.fetch(job_id, connection=connection, serializer=serializer)
    except NoSuchJobError:
        return None
    if job.get_status(refresh=False) != JobStatus.STARTED or job.celery_task_id != dispatch_id:
        return None
    return job
