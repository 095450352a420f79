"""The parts of enqueueing that Queue delegates: argument parsing, unique saves, dependencies, inline runs."""

from __future__ import annotations

import sys
import traceback
from collections import namedtuple
from typing import Any, NamedTuple

from redis import WatchError

from app.tasks.rq_compat import keys
from app.tasks.rq_compat.exceptions import DuplicateJobError
from app.tasks.rq_compat.options import JobStatus
from app.tasks.rq_compat.utils import as_text, now, utcformat

DEFAULT_RESULT_TTL = 500
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

    func: Any
    timeout: Any
    description: Any
    result_ttl: Any
    ttl: Any
    failure_ttl: Any
    depends_on: Any
    job_id: Any
    at_front: bool
    meta: Any
    retry: Any
    repeat: Any
    on_success: Any
    on_failure: Any
    on_stopped: Any
    pipeline: Any
    unique: bool
    args: Any
    kwargs: Any
    webhooks: Any


def parse_args(f: Any, *args: Any, **kwargs: Any) -> EnqueueArgs:
    """Take RQ's own keyword arguments out of an enqueue() call; the rest belongs to the function."""
    if not isinstance(f, str) and getattr(f, "__module__", None) == "__main__":
        raise ValueError("Functions from the __main__ module cannot be processed by workers")
    options = {
        name: kwargs.pop(name, None)
        for name in (
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
        )
    }
    at_front, unique = kwargs.pop("at_front", False), kwargs.pop("unique", False)
    if "args" in kwargs or "kwargs" in kwargs:
        assert args == (), "Extra positional arguments cannot be used when using explicit args and kwargs"
        args, kwargs = kwargs.pop("args", None), kwargs.pop("kwargs", None)  # type: ignore[assignment]
    return EnqueueArgs(
        f,
        options["job_timeout"],
        options["description"],
        options["result_ttl"],
        options["ttl"],
        options["failure_ttl"],
        options["depends_on"],
        options["job_id"],
        at_front,
        options["meta"],
        options["retry"],
        options["repeat"],
        options["on_success"],
        options["on_failure"],
        options["on_stopped"],
        options["pipeline"],
        unique,
        args,
        kwargs,
        options["webhooks"],
    )


def refuse_unsupported(repeat: Any = None, webhooks: Any = None) -> None:
    """Repeat and webhooks are RQ features this API does not carry over: say so instead of ignoring them."""
    if repeat is not None or webhooks:
        raise NotImplementedError("repeat= and webhooks= are not supported by the Celery-backed RQ API")


def save_unique(job: Any, push: str, extra_zset: tuple[str, float] | None = None) -> None:
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


def _redis_value(value: Any) -> Any:
    """A hash value as Lua receives it."""
    return value if isinstance(value, (bytes, str)) else str(value)


def setup_dependencies(queue: Any, job: Any, pipeline: Any = None) -> Any:
    """Defer the job (and register it with each dependency) while any dependency has not finished."""
    if not job._dependency_ids:
        return job
    original = job.get_status(refresh=False)
    pipe = pipeline if pipeline is not None else queue.connection.pipeline()
    while True:
        try:
            pipe.watch(job.dependencies_key)
            dependencies = job.fetch_dependencies(watch=True, pipeline=pipe)
            pipe.multi()
            if all(dep.get_status(refresh=False) == JobStatus.FINISHED for dep in dependencies):
                return job
            job.set_status(JobStatus.DEFERRED, pipeline=pipe)
            job.register_dependency(pipeline=pipe)
            job.save(pipeline=pipe)
            job.cleanup(ttl=job.ttl, pipeline=pipe)
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


def ready_dependents(
    queue: Any, job: Any, pipe: Any, exclude_job_id: str | None = None, refresh_job_status: bool = True
) -> tuple[list[Any], set[str]]:
    """Dependents of `job` whose dependencies are now met (WATCHing what was read), and all dependent ids."""
    ids = {as_text(job_id) for job_id in pipe.smembers(job.dependents_key)}
    ready = [
        dependent
        for dependent in queue.job_class.fetch_many(ids, connection=queue.connection, serializer=queue.serializer)
        if dependent
        and dependent.dependencies_are_met(
            parent_job=job, pipeline=pipe, exclude_job_id=exclude_job_id, refresh_job_status=refresh_job_status
        )
        and dependent.get_status(refresh=False) != JobStatus.CANCELED
    ]
    return ready, ids


def stage_dependents(queue: Any, job: Any, ready: list[Any], all_ids: set[str], pipe: Any) -> None:
    """In the open MULTI: move the ready dependents from deferred to their queues."""
    from app.tasks.rq_compat.queue import Queue

    for dependent in ready:
        target = queue if dependent.origin == queue.name else Queue(dependent.origin, connection=queue.connection)
        target.deferred_job_registry.remove(dependent, pipeline=pipe)
        target._enqueue_job(dependent, pipeline=pipe, at_front=dependent.enqueue_at_front or False)
    if ready and len(ready) == len(all_ids):
        pipe.delete(job.dependents_key)
    elif ready:
        pipe.srem(job.dependents_key, *[dependent.id for dependent in ready])


def enqueue_dependents(
    queue: Any, job: Any, pipeline: Any = None, exclude_job_id: str | None = None, refresh_job_status: bool = True
) -> None:
    """Queue every dependent of `job` whose dependencies are met (WATCH/MULTI/EXEC unless given a pipeline)."""
    pipe = pipeline if pipeline is not None else queue.connection.pipeline()
    while True:
        try:
            if pipeline is None:
                pipe.watch(job.dependents_key)
            ready, ids = ready_dependents(queue, job, pipe, exclude_job_id, refresh_job_status)
            pipe.multi()
            stage_dependents(queue, job, ready, ids, pipe)
            if pipeline is None:
                pipe.execute()
            return
        except WatchError:
            if pipeline is not None:
                raise
        finally:
            if pipeline is None:
                pipe.reset()


def run_sync(queue: Any, job: Any) -> Any:
    """is_async=False: run the job in this process, recording the outcome like a worker would."""
    from app.tasks.rq_compat.execution import record_failure, record_success, run_callback

    with queue.connection.pipeline() as pipe:
        job.worker_name, job.started_at = "sync", now()
        job.last_heartbeat, job._status = job.started_at, JobStatus.STARTED
        stamp = utcformat(job.started_at)
        pipe.hset(
            job.key, mapping={"last_heartbeat": stamp, "status": "started", "worker_name": "sync", "started_at": stamp}
        )
        pipe.persist(job.key)
        pipe.execute()
    try:
        job.perform()
        job.ended_at = now()
        result_ttl = job.get_result_ttl(DEFAULT_RESULT_TTL)
        with queue.connection.pipeline() as pipe:
            record_success(job, result_ttl, pipe, worker_name="")
            job.cleanup(result_ttl, pipeline=pipe)
            pipe.execute()
    except Exception:
        exc_info = sys.exc_info()
        with queue.connection.pipeline() as pipe:
            job.set_status(JobStatus.FAILED, pipeline=pipe)
            record_failure(job, "".join(traceback.format_exception(*exc_info)), pipe, worker_name="")
            pipe.execute()
        run_callback(job, "failure", *exc_info, enforce_timeout=False)
    else:
        run_callback(job, "success", job.return_value(), enforce_timeout=False)
    return job
