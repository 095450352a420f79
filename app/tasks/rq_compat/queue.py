"""Queue: RQ's queue API; jobs are recorded in Redis as RQ records them and run by the Celery workers."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from functools import total_ordering
from typing import Any

from app.tasks.rq_compat import enqueueing, keys, registry
from app.tasks.rq_compat.dispatch import Outbox, new_dispatch_id, publish
from app.tasks.rq_compat.enqueueing import EnqueueData
from app.tasks.rq_compat.exceptions import NoSuchJobError
from app.tasks.rq_compat.job import Job
from app.tasks.rq_compat.options import JobStatus
from app.tasks.rq_compat.utils import as_text, import_attribute, now, parse_timeout, resolve_serializer

EMPTY_SCRIPT = """
local count = 0
while true do
  local job_id = redis.call("lpop", KEYS[1])
  if job_id == false then break end
  redis.call("del", ARGV[1]..job_id)
  redis.call("del", ARGV[1]..job_id..":dependents")
  count = count + 1
end
return count
"""


@total_ordering
class Queue:
    """A named queue; enqueueing publishes to the Celery queue of the same name."""

    job_class: type[Job] = Job
    DEFAULT_TIMEOUT = 180
    redis_queue_namespace_prefix = keys.QUEUE_PREFIX
    redis_queues_keys = keys.QUEUES_SET

    def __init__(
        self,
        name: str = "default",
        connection: Any = None,
        default_timeout: int | str | None = None,
        is_async: bool = True,
        job_class: Any = None,
        serializer: Any = None,
        death_penalty_class: Any = None,
        **kwargs: Any,
    ) -> None:
        if not connection:
            raise TypeError("Queue() missing 1 required positional argument: 'connection'")
        self.connection, self.name = connection, name
        self._key = keys.queue_key(name)
        self._default_timeout = parse_timeout(default_timeout) or self.DEFAULT_TIMEOUT
        self._is_async = kwargs.get("async", is_async)
        if job_class is not None:
            self.job_class = import_attribute(job_class) if isinstance(job_class, str) else job_class  # type: ignore[assignment]
        self.serializer = resolve_serializer(serializer)

    @classmethod
    def all(
        cls, connection: Any, job_class: Any = None, serializer: Any = None, death_penalty_class: Any = None
    ) -> list[Queue]:
        """Every queue that has ever had a job."""
        return [
            cls.from_queue_key(as_text(key), connection=connection, job_class=job_class, serializer=serializer)
            for key in connection.smembers(cls.redis_queues_keys)
            if key
        ]

    @classmethod
    def from_queue_key(
        cls,
        queue_key: str,
        connection: Any,
        job_class: Any = None,
        serializer: Any = None,
        death_penalty_class: Any = None,
    ) -> Queue:
        """The queue behind an `rq:queue:<name>` key."""
        if not queue_key.startswith(cls.redis_queue_namespace_prefix):
            raise ValueError(f"Not a valid RQ queue key: {queue_key}")
        return cls(
            queue_key[len(cls.redis_queue_namespace_prefix) :],
            connection=connection,
            job_class=job_class,
            serializer=serializer,
        )

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Any:
        yield self

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Queue) and self.name == other.name

    def __lt__(self, other: Queue) -> bool:
        return self.name < other.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"Queue({self.name!r})"

    def __str__(self) -> str:
        return f"<Queue {self.name}>"

    @property
    def key(self) -> str:
        """The Redis list of queued job ids."""
        return self._key

    @property
    def is_async(self) -> bool:
        """False runs jobs inline at enqueue time."""
        return bool(self._is_async)

    # -- looking at the queue
    @property
    def count(self) -> int:
        """How many jobs are queued (not deferred, scheduled or running)."""
        return self.connection.llen(self.key)

    def is_empty(self) -> bool:
        """True when nothing is queued."""
        return self.count == 0

    def get_job_ids(self, offset: int = 0, length: int = -1) -> list[str]:
        """Queued ids, next first."""
        end = offset + length - 1 if length >= 0 else length
        return [as_text(job_id) for job_id in self.connection.lrange(self.key, offset, end)]

    def get_jobs(self, offset: int = 0, length: int = -1) -> list[Job]:
        """Queued jobs, next first."""
        return [job for job in (self.fetch_job(job_id) for job_id in self.get_job_ids(offset, length)) if job]

    job_ids = property(get_job_ids, doc="Every queued id.")
    jobs = property(get_jobs, doc="Every queued job.")

    def fetch_job(self, job_id: str) -> Job | None:
        """A job of this queue, or None (dropping the id if its record is gone)."""
        try:
            job = self.job_class.fetch(job_id, connection=self.connection, serializer=self.serializer)
        except NoSuchJobError:
            self.remove(job_id)
            return None
        return job if job.origin == self.name else None

    def get_job_position(self, job_or_id: Job | str) -> int | None:
        """Where a job stands in the queue (0 is next)."""
        return self.connection.lpos(self.key, job_or_id.id if isinstance(job_or_id, Job) else job_or_id)

    def remove(self, job_or_id: Job | str, pipeline: Any = None) -> Any:
        """Take a job id off the queue list."""
        job_id = job_or_id.id if isinstance(job_or_id, Job) else job_or_id
        return (pipeline if pipeline is not None else self.connection).lrem(self.key, 1, job_id)

    def empty(self) -> int:
        """Delete every queued job; their Celery messages then find nothing to run."""
        return self.connection.eval(EMPTY_SCRIPT, 1, self.key, keys.JOB_PREFIX)

    def delete(self, delete_jobs: bool = True) -> None:
        """Forget the queue (and, by default, its queued jobs)."""
        if delete_jobs:
            self.empty()
        with self.connection.pipeline() as pipe:
            pipe.srem(self.redis_queues_keys, self.key)
            pipe.delete(self.key)
            pipe.execute()

    def _registry(self, cls: type) -> Any:
        return cls(queue=self, job_class=self.job_class, serializer=self.serializer)

    started_job_registry = property(lambda self: self._registry(registry.StartedJobRegistry))
    finished_job_registry = property(lambda self: self._registry(registry.FinishedJobRegistry))
    failed_job_registry = property(lambda self: self._registry(registry.FailedJobRegistry))
    deferred_job_registry = property(lambda self: self._registry(registry.DeferredJobRegistry))
    scheduled_job_registry = property(lambda self: self._registry(registry.ScheduledJobRegistry))
    canceled_job_registry = property(lambda self: self._registry(registry.CanceledJobRegistry))

    # -- enqueueing
    parse_args = staticmethod(enqueueing.parse_args)

    def create_job(
        self,
        func: Any,
        args: Any = None,
        kwargs: Any = None,
        timeout: Any = None,
        result_ttl: Any = None,
        ttl: Any = None,
        failure_ttl: Any = None,
        description: str | None = None,
        depends_on: Any = None,
        job_id: str | None = None,
        meta: dict | None = None,
        status: JobStatus = JobStatus.QUEUED,
        retry: Any = None,
        repeat: Any = None,
        *,
        on_success: Any = None,
        on_failure: Any = None,
        on_stopped: Any = None,
        webhooks: Any = None,
        group_id: str | None = None,
    ) -> Job:
        """A job for this queue, with RQ's checks on timeout and ttl."""
        enqueueing.refuse_unsupported(repeat, webhooks)
        timeout = parse_timeout(timeout)
        if timeout == 0:
            raise ValueError("0 timeout is not allowed. Use -1 for infinite timeout")
        ttl = parse_timeout(ttl)
        if ttl is not None and ttl <= 0:
            raise ValueError("Job ttl must be greater than 0")
        return self.job_class.create(
            func,
            args=args,
            kwargs=kwargs,
            connection=self.connection,
            result_ttl=result_ttl,
            ttl=ttl,
            failure_ttl=failure_ttl,
            status=status,
            description=description,
            depends_on=depends_on,
            timeout=timeout if timeout is not None else self._default_timeout,
            retry=retry,
            id=job_id,
            origin=self.name,
            meta=meta,
            serializer=self.serializer,
            group_id=group_id,
            on_success=on_success,
            on_failure=on_failure,
            on_stopped=on_stopped,
        )

    def enqueue(self, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Queue `f(*args, **kwargs)`; RQ's own keyword arguments are taken out first."""
        parsed = enqueueing.parse_args(f, *args, **kwargs)
        return self.enqueue_call(
            func=parsed.func,
            args=parsed.args,
            kwargs=parsed.kwargs,
            timeout=parsed.timeout,
            result_ttl=parsed.result_ttl,
            ttl=parsed.ttl,
            failure_ttl=parsed.failure_ttl,
            description=parsed.description,
            depends_on=parsed.depends_on,
            job_id=parsed.job_id,
            at_front=parsed.at_front,
            meta=parsed.meta,
            retry=parsed.retry,
            repeat=parsed.repeat,
            on_success=parsed.on_success,
            on_failure=parsed.on_failure,
            on_stopped=parsed.on_stopped,
            pipeline=parsed.pipeline,
            unique=parsed.unique,
            webhooks=parsed.webhooks,
        )

    def enqueue_call(
        self,
        func: Any,
        args: Any = None,
        kwargs: Any = None,
        timeout: Any = None,
        result_ttl: Any = None,
        ttl: Any = None,
        failure_ttl: Any = None,
        description: str | None = None,
        depends_on: Any = None,
        job_id: str | None = None,
        at_front: bool = False,
        meta: dict | None = None,
        retry: Any = None,
        repeat: Any = None,
        on_success: Any = None,
        on_failure: Any = None,
        on_stopped: Any = None,
        pipeline: Any = None,
        unique: bool = False,
        webhooks: Any = None,
    ) -> Job:
        """Queue a call given as explicit args and kwargs."""
        if unique and not job_id:
            raise ValueError("unique=True requires an explicit job_id")
        job = self.create_job(
            func,
            args=args,
            kwargs=kwargs,
            timeout=timeout,
            result_ttl=result_ttl,
            ttl=ttl,
            failure_ttl=failure_ttl,
            description=description,
            depends_on=depends_on,
            job_id=job_id,
            meta=meta,
            retry=retry,
            repeat=repeat,
            on_success=on_success,
            on_failure=on_failure,
            on_stopped=on_stopped,
            webhooks=webhooks,
        )
        return self.enqueue_job(job, pipeline=pipeline, at_front=at_front, unique=unique)

    @staticmethod
    def prepare_data(
        func: Any,
        args: Any = None,
        kwargs: Any = None,
        timeout: Any = None,
        result_ttl: Any = None,
        ttl: Any = None,
        failure_ttl: Any = None,
        description: str | None = None,
        depends_on: Any = None,
        job_id: str | None = None,
        at_front: bool = False,
        meta: dict | None = None,
        retry: Any = None,
        on_success: Any = None,
        on_failure: Any = None,
        on_stopped: Any = None,
        repeat: Any = None,
        webhooks: Any = None,
    ) -> EnqueueData:
        """One call for enqueue_many()."""
        return EnqueueData(
            func,
            args,
            kwargs,
            timeout,
            result_ttl,
            ttl,
            failure_ttl,
            description,
            depends_on,
            job_id,
            at_front,
            meta,
            retry,
            on_success,
            on_failure,
            on_stopped,
            repeat,
            webhooks,
        )

    def enqueue_many(
        self, job_datas: Iterable[EnqueueData], pipeline: Any = None, group_id: str | None = None
    ) -> list[Job]:
        """Queue many prepared calls in one Redis transaction; the messages go out after it commits."""
        pipe = pipeline if pipeline is not None else self.connection.pipeline()
        pipe.sadd(self.redis_queues_keys, self.key)
        jobs = [
            self._enqueue_job(self._job_from_data(data, group_id), pipeline=pipe, at_front=data.at_front)
            for data in job_datas
            if not data.depends_on
        ]
        if pipeline is None:
            pipe.execute()
        return jobs + [
            self.enqueue_job(self._job_from_data(data, group_id), pipeline=pipeline)
            for data in job_datas
            if data.depends_on
        ]

    def _job_from_data(self, data: EnqueueData, group_id: str | None) -> Job:
        """A job from one prepare_data() tuple."""
        return self.create_job(
            data.func,
            args=data.args,
            kwargs=data.kwargs,
            timeout=data.timeout,
            result_ttl=data.result_ttl,
            ttl=data.ttl,
            failure_ttl=data.failure_ttl,
            description=data.description,
            depends_on=data.depends_on,
            job_id=data.job_id,
            meta=data.meta,
            retry=data.retry,
            repeat=data.repeat,
            on_success=data.on_success,
            on_failure=data.on_failure,
            on_stopped=data.on_stopped,
            webhooks=data.webhooks,
            group_id=group_id,
        )

    def enqueue_job(self, job: Job, pipeline: Any = None, at_front: bool = False, unique: bool = False) -> Job:
        """Queue a created job, deferring it while its dependencies have not finished."""
        if unique and not job._id:
            raise ValueError("unique=True requires an explicit job_id")
        if unique and job._dependency_ids:
            raise ValueError("unique=True is not supported with job dependencies")
        job.origin = self.name
        job = enqueueing.setup_dependencies(self, job, pipeline=pipeline)
        pipe = pipeline if pipeline is not None else self.connection.pipeline()
        pipe.sadd(self.redis_queues_keys, self.key)
        if job.get_status(refresh=False) != JobStatus.DEFERRED:
            self._enqueue_job(job, pipeline=pipe, at_front=at_front, unique=unique)
        if pipeline is None:
            pipe.execute()
        return job

    def _prepare_for_queue(self, job: Job) -> None:
        """Mark the job queued now, on this queue, with its timeout and the id of its next message."""
        job.origin, job.enqueued_at, job._status = self.name, now(), JobStatus.QUEUED
        if job.timeout is None:
            job.timeout = self._default_timeout
        job.celery_task_id = new_dispatch_id(job)

    def _enqueue_job(self, job: Job, pipeline: Any = None, at_front: bool = False, unique: bool = False) -> Job:
        """Queue without looking at dependencies: record it, then (after the commit) publish it."""
        was_deferred = job.get_status(refresh=False) == JobStatus.DEFERRED
        self._prepare_for_queue(job)
        if not self.is_async:
            return self._run_inline(job, unique)
        if unique:
            enqueueing.save_unique(job, "L" if at_front else "R")
            publish(job, at_front=at_front)
            return job
        pipe = pipeline if pipeline is not None else self.connection.pipeline()
        if was_deferred:
            self.deferred_job_registry.remove(job, pipeline=pipe)
        job.save(pipeline=pipe)
        job.cleanup(ttl=job.ttl, pipeline=pipe)
        (pipe.lpush if at_front else pipe.rpush)(self.key, job.id)
        Outbox.of(pipe).add(job, at_front=at_front)
        if pipeline is None:
            pipe.execute()
        return job

    def _run_inline(self, job: Job, unique: bool) -> Job:
        """is_async=False: save the job, then run it right here."""
        if unique:
            enqueueing.save_unique(job, "N")
        else:
            with self.connection.pipeline() as pipe:
                self.deferred_job_registry.remove(job, pipeline=pipe)
                job.save(pipeline=pipe)
                job.cleanup(ttl=job.ttl, pipeline=pipe)
                pipe.execute()
        return enqueueing.run_sync(self, job)

    def enqueue_at(self, datetime: datetime, f: Any, *args: Any, **kwargs: Any) -> Job:
        """Run `f` at `datetime` (naive means local time, as in RQ)."""
        parsed = enqueueing.parse_args(f, *args, **kwargs)
        job = self.create_job(
            parsed.func,
            status=JobStatus.SCHEDULED,
            args=parsed.args,
            kwargs=parsed.kwargs,
            timeout=parsed.timeout,
            result_ttl=parsed.result_ttl,
            ttl=parsed.ttl,
            failure_ttl=parsed.failure_ttl,
            description=parsed.description,
            depends_on=parsed.depends_on,
            job_id=parsed.job_id,
            meta=parsed.meta,
            retry=parsed.retry,
            repeat=parsed.repeat,
            on_success=parsed.on_success,
            on_failure=parsed.on_failure,
            on_stopped=parsed.on_stopped,
            webhooks=parsed.webhooks,
        )
        if parsed.at_front:
            job.enqueue_at_front = True
        return self.schedule_job(job, datetime, pipeline=parsed.pipeline, unique=parsed.unique)

    def enqueue_in(self, time_delta: timedelta, func: Any, *args: Any, **kwargs: Any) -> Job:
        """Run `func` after `time_delta`."""
        return self.enqueue_at(now() + time_delta, func, *args, **kwargs)

    def schedule_job(self, job: Job, datetime: datetime, pipeline: Any = None, unique: bool = False) -> Job:
        """Record the job as scheduled and publish it with Celery's ETA set to `datetime`."""
        if unique and not job._id:
            raise ValueError("unique=True requires an explicit job_id")
        when = _aware(datetime)
        job.origin, job._status = self.name, JobStatus.SCHEDULED
        if job.timeout is None:
            job.timeout = self._default_timeout
        job.celery_task_id = new_dispatch_id(job)
        if unique:
            enqueueing.save_unique(job, "N", (self.scheduled_job_registry.key, when.timestamp()))
            publish(job, eta=when, at_front=bool(job.enqueue_at_front))
            return job
        pipe = pipeline if pipeline is not None else self.connection.pipeline()
        pipe.sadd(self.redis_queues_keys, self.key)
        job.set_status(JobStatus.SCHEDULED, pipeline=pipe)
        job.save(pipeline=pipe)
        job.cleanup(ttl=job.ttl, pipeline=pipe)
        self.scheduled_job_registry.schedule(job, when, pipeline=pipe)
        Outbox.of(pipe).add(job, eta=when, at_front=bool(job.enqueue_at_front))
        if pipeline is None:
            pipe.execute()
        return job

    def enqueue_dependents(
        self, job: Job, pipeline: Any = None, exclude_job_id: str | None = None, refresh_job_status: bool = True
    ) -> None:
        """Queue the jobs that were waiting for `job`, where their dependencies are now met."""
        enqueueing.enqueue_dependents(
            self, job, pipeline=pipeline, exclude_job_id=exclude_job_id, refresh_job_status=refresh_job_status
        )

    def run_sync(self, job: Job) -> Job:
        """Run a job in this process."""
        return enqueueing.run_sync(self, job)


def _aware(moment: datetime) -> datetime:
    """A timezone-aware datetime; a naive one is local time, as RQ's scheduler reads it."""
    if moment.tzinfo:
        return moment
    offset = -(time.timezone if time.daylight == 0 else time.altzone)
    return moment.replace(tzinfo=timezone(timedelta(seconds=offset)))
