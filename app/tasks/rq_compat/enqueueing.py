"""Enqueueing below Queue: argument parsing, and recording a job as queued or scheduled (then publishing it)."""

from __future__ import annotations

import calendar
from collections import namedtuple
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from app.tasks.rq_compat import keys
from app.tasks.rq_compat.dispatch import Outbox, new_dispatch_id, publish
from app.tasks.rq_compat.exceptions import DuplicateJobError
from app.tasks.rq_compat.options import JobStatus
from app.tasks.rq_compat.utils import now

if TYPE_CHECKING:
    from redis.client import Pipeline
    from redis.typing import EncodableT

    from app.tasks.rq_compat.job import Job
    from app.tasks.rq_compat.options import Retry
    from app.tasks.rq_compat.record import CallbackSpec, DependsOn

DEFAULT_RESULT_TTL = 500
DEFAULT_TIMEOUT = 180
EnqueueData = namedtuple(
    "EnqueueData",
    [
        "func",
        "args",
        "kwargs",
        "timeout",
        "result_ttl",
        "ttl",
        "failure_ttl",
        "description",
        "depends_on",
        "job_id",
        "at_front",
        "meta",
        "retry",
        "on_success",
        "on_failure",
        "on_stopped",
        "repeat",
        "webhooks",
    ],
)


class EnqueueArgs(NamedTuple):
    """What Queue.parse_args splits a call into."""

    func: Callable[..., Any] | str
    timeout: int | str | None
    description: str | None
    result_ttl: int | str | None
    ttl: int | str | None
    failure_ttl: int | str | None
    depends_on: DependsOn | None
    job_id: str | None
    at_front: bool
    meta: dict[str, Any] | None
    retry: Retry | None
    repeat: object
    on_success: CallbackSpec | None
    on_failure: CallbackSpec | None
    on_stopped: CallbackSpec | None
    pipeline: Pipeline | None
    unique: bool
    args: tuple[Any, ...] | list[Any] | None
    kwargs: dict[str, Any] | None
    webhooks: object
    rate_limit: object


# enqueue()'s own keyword arguments (job_timeout is EnqueueArgs.timeout); everything else goes to the function.
RQ_KEYWORDS = (
    "job_timeout",
    "description",
    "result_ttl",
    "ttl",
    "failure_ttl",
    "depends_on",
    "job_id",
    "meta",
    "retry",
    "repeat",
    "on_success",
    "on_failure",
    "on_stopped",
    "webhooks",
    "pipeline",
    "rate_limit",
)


def parse_args(f: Callable[..., Any] | str, *args: Any, **kwargs: Any) -> EnqueueArgs:
    """Take RQ's own keyword arguments out of an enqueue() call; the rest belongs to the function."""
    if not isinstance(f, str) and getattr(f, "__module__", None) == "__main__":
        raise ValueError("Functions from the __main__ module cannot be processed by workers")
    options = {name: kwargs.pop(name, None) for name in RQ_KEYWORDS}
    options["timeout"] = options.pop("job_timeout")
    at_front, unique = kwargs.pop("at_front", False), kwargs.pop("unique", False)
    if "args" in kwargs or "kwargs" in kwargs:
        assert args == (), "Extra positional arguments cannot be used when using explicit args and kwargs"
        args, kwargs = kwargs.pop("args", None), kwargs.pop("kwargs", None)
    return EnqueueArgs(func=f, at_front=at_front, unique=unique, args=args, kwargs=kwargs, **options)


def refuse_unsupported(repeat: object = None, webhooks: object = None, rate_limit: object = None) -> None:
    """Repeat, webhooks and rate limits are RQ features this API does not carry over: say so, never ignore them."""
    if repeat is not None or webhooks or rate_limit is not None:
        raise NotImplementedError("repeat=, webhooks= and rate_limit= are not supported by the Celery-backed RQ API")


def save_unique(job: Job, push: str, extra_zset: tuple[str, float] | None = None) -> None:
    """Atomically: refuse if the id exists, else save the job and push it ('L', 'R' or 'N' for no push)."""
    script = """
    if redis.call("EXISTS", KEYS[1]) == 1 then return 0 end
    redis.call("HSET", KEYS[1], unpack(ARGV, 5))
    local ttl = tonumber(ARGV[3])
    if ttl and ttl > 0 then redis.call("EXPIRE", KEYS[1], ttl) end
    if ARGV[2] == "L" then redis.call("LPUSH", KEYS[2], ARGV[1]) end
    if ARGV[2] == "R" then redis.call("RPUSH", KEYS[2], ARGV[1]) end
    if ARGV[4] ~= "" then redis.call("ZADD", KEYS[3], ARGV[4], ARGV[1]) end
    redis.call("SADD", KEYS[4], KEYS[2])
    return 1
    """
    fields = [item for pair in job.to_dict().items() for item in (pair[0], _redis_value(pair[1]))]
    zset_key, score = extra_zset or ("", "")
    ok = job.connection.eval(
        script,
        4,
        job.key,
        keys.queue_key(job.origin),
        zset_key or "rq:none",
        keys.QUEUES_SET,
        job.id,
        push,
        job.ttl if job.ttl is not None else -1,
        score,
        *fields,
    )
    if not ok:
        raise DuplicateJobError(f"Job with ID '{job.id}' already exists")


def _redis_value(value: EncodableT) -> EncodableT:
    """A hash value as Lua receives it."""
    return value if isinstance(value, (bytes, str)) else str(value)


def prepare(job: Job, queue_name: str, default_timeout: int = DEFAULT_TIMEOUT) -> None:
    """Mark the job queued now, on this queue, with its timeout and the id of its next message."""
    job.origin, job.enqueued_at, job._status = queue_name, now(), JobStatus.QUEUED
    if job.timeout is None:
        job.timeout = default_timeout
    job.celery_task_id = new_dispatch_id(job)


def push(job: Job, pipeline: Pipeline | None = None, at_front: bool = False, was_deferred: bool = False) -> Job:
    """Record a prepared job on its queue, then (after the commit) publish it: RQ's Queue._enqueue_job."""
    pipe = pipeline if pipeline is not None else job.connection.pipeline()
    if was_deferred:
        pipe.zrem(keys.registry_key("deferred", job.origin), job.id)
    job.save(pipeline=pipe)
    job.cleanup(ttl=job.ttl, pipeline=pipe)
    (pipe.lpush if at_front else pipe.rpush)(keys.queue_key(job.origin), job.id)
    Outbox.of(pipe).add(job, at_front=at_front)
    if pipeline is None:
        pipe.execute()
    return job


def enqueue(job: Job, queue_name: str, pipeline: Pipeline | None = None, at_front: bool = False) -> Job:
    """Queue a job (a retry, a requeue, a released dependent) on `queue_name`."""
    was_deferred = job.get_status(refresh=False) == JobStatus.DEFERRED
    prepare(job, queue_name)
    return push(job, pipeline=pipeline, at_front=at_front, was_deferred=was_deferred)


def schedule(job: Job, when: datetime, pipeline: Pipeline | None = None, unique: bool = False) -> Job:
    """Record the job as scheduled on its queue and publish it with Celery's ETA set to `when`."""
    job._status, job.celery_task_id = JobStatus.SCHEDULED, new_dispatch_id(job)
    if job.timeout is None:
        job.timeout = DEFAULT_TIMEOUT
    score = calendar.timegm(when.utctimetuple())  # whole seconds, as RQ's scheduler reads them
    if unique:
        save_unique(job, "N", (keys.registry_key("scheduled", job.origin), score))
        publish(job, eta=when, at_front=bool(job.enqueue_at_front))
        return job
    pipe = pipeline if pipeline is not None else job.connection.pipeline()
    pipe.sadd(keys.QUEUES_SET, keys.queue_key(job.origin))
    job.set_status(JobStatus.SCHEDULED, pipeline=pipe)
    job.save(pipeline=pipe)
    job.cleanup(ttl=job.ttl, pipeline=pipe)
    pipe.zadd(keys.registry_key("scheduled", job.origin), {job.id: score})
    Outbox.of(pipe).add(job, eta=when, at_front=bool(job.enqueue_at_front))
    if pipeline is None:
        pipe.execute()
    return job
