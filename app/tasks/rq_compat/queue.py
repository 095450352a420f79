"""Queue: RQ's queue API; jobs are recorded in Redis as RQ records them and run by the Celery workers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from functools import total_ordering
from typing import TYPE_CHECKING, Any

from app.tasks.rq_compat import dependencies, enqueueing, execution, keys, registry
from app.tasks.rq_compat.dispatch import publish
from app.tasks.rq_compat.enqueueing import DEFAULT_TIMEOUT, EnqueueData
from app.tasks.rq_compat.exceptions import NoSuchJobError
from app.tasks.rq_compat.job import Job
from app.tasks.rq_compat.options import JobStatus
from app.tasks.rq_compat.utils import Serializer, as_text, import_attribute, now, parse_timeout, resolve_serializer

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from app.tasks.rq_compat.options import Retry
    from app.tasks.rq_compat.record import CallbackSpec, DependsOn

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
Func = Callable[..., Any] | str  # what RQ enqueues: a callable or its dotted path
Args = tuple[Any, ...] | list[Any] | None


@total_ordering
class Queue:
    """A named queue; enqueueing publishes to the Celery queue of the same name."""

    job_class: type[Job] = Job
    DEFAULT_TIMEOUT = DEFAULT_TIMEOUT
    redis_queue_namespace_prefix = keys.QUEUE_PREFIX
    redis_queues_keys = keys.QUEUES_SET

    def __init__(
        self,
        name: str = "default",
        connection: Redis | None = None,
        default_timeout: int | str | None = None,
        is_async: bool = True,
        job_class: type[Job] | str | None = None,
        serializer: Serializer | str | None = None,
        death_penalty_class: object = None,
        **kwargs: Any,
    ) -> None:
        if not connection:
            raise TypeError("Queue() missing 1 required positional argument: 'connection'")
        self.connection: Redis = connection
        self.name, self._key = name, keys.queue_key(name)
        self._default_timeout = parse_timeout(default_timeout) or self.DEFAULT_TIMEOUT
        self._is_async = kwargs.get("async", is_async)
        if job_class is not None:
            self.job_class = import_attribute(job_class) if isinstance(job_class, str) else job_class
        self.serializer = resolve_serializer(serializer)

    @classmethod
    def all(
        cls,
        connection: Redis,
        job_class: type[Job] | None = None,
        serializer: Serializer | str | None = None,
        death_penalty_class: object = None,
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
        connection: Redis,
        job_class: type[Job] | None = None,
        serializer: Serializer | str | None = None,
        death_penalty_class: object = None,
    ) -> Queue:
        """The queue behind an `rq:queue:<name>` key."""
        if not queue_key.startswith(cls.redis_queue_namespace_prefix):
            raise ValueError(f"Not a valid RQ queue key: {queue_key}")
        name = queue_key[len(cls.redis_queue_namespace_prefix) :]
        return cls(name, connection=connection, job_class=job_class, serializer=serializer)

    def __len__(self) -> int:
        return self.count

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Iterator[Queue]:
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
        position = self.connection.lpos(self.key, job_or_id.id if isinstance(job_or_id, Job) else job_or_id)
        return position if isinstance(position, int) else None

    def remove(self, job_or_id: Job | str, pipeline: Pipeline | None = None) -> int:
        """Take a job id off the queue list."""
        job_id = job_or_id.id if isinstance(job_or_id, Job) else job_or_id
        return (pipeline if pipeline is not None else self.connection).lrem(self.key, 1, job_id)

    def empty(self) -> int:
        """Delete every queued job; their Celery messages then find nothing to run."""
        return int(self.connection.eval(EMPTY_SCRIPT, 1, self.key, keys.JOB_PREFIX))

    def delete(self, delete_jobs: bool = True) -> None:
        """Forget the queue (and, by default, its queued jobs)."""
        if delete_jobs:
            self.empty()
        with self.connection.pipeline() as pipe:
            pipe.srem(self.redis_queues_keys, self.key)
            pipe.delete(self.key)
            pipe.execute()

    def _registry(self, cls: type[registry.R]) -> registry.R:
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
        func: Func,
        args: Args = None,
        kwargs: dict[str, Any] | None = None,
        timeout: int | str | None = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        failure_ttl: int | str | None = None,
        description: str | None = None,
        depends_on: DependsOn | None = None,
        job_id: str | None = None,
        meta: dict[str, Any] | None = None,
        status: JobStatus = JobStatus.QUEUED,
        retry: Retry | None = None,
        repeat: object = None,
        *,
        on_success: CallbackSpec | None = None,
        on_failure: CallbackSpec | None = None,
        on_stopped: CallbackSpec | None = None,
        webhooks: object = None,
        group_id: str | None = None,
        rate_limit: object = None,
    ) -> Job:
        """A job for this queue, with RQ's checks on timeout and ttl."""
        enqueueing.refuse_unsupported(repeat, webhooks, rate_limit)
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
            result_ttl=parse_timeout(result_ttl),
            ttl=ttl,
            failure_ttl=parse_timeout(failure_ttl),
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

    def enqueue(self, f: Func, *args: Any, **kwargs: Any) -> Job:
        """Queue `f(*args, **kwargs)`; RQ's own keyword arguments are taken out first."""
        return self.enqueue_call(**enqueueing.parse_args(f, *args, **kwargs)._asdict())

    def enqueue_call(
        self,
        func: Func,
        args: Args = None,
        kwargs: dict[str, Any] | None = None,
        timeout: int | str | None = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        failure_ttl: int | str | None = None,
        description: str | None = None,
        depends_on: DependsOn | None = None,
        job_id: str | None = None,
        at_front: bool = False,
        meta: dict[str, Any] | None = None,
        retry: Retry | None = None,
        repeat: object = None,
        on_success: CallbackSpec | None = None,
        on_failure: CallbackSpec | None = None,
        on_stopped: CallbackSpec | None = None,
        rate_limit: object = None,
        pipeline: Pipeline | None = None,
        unique: bool = False,
        webhooks: object = None,
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
            rate_limit=rate_limit,
        )
        return self.enqueue_job(job, pipeline=pipeline, at_front=at_front, unique=unique)

    @staticmethod
    def prepare_data(
        func: Func,
        args: Args = None,
        kwargs: dict[str, Any] | None = None,
        timeout: int | str | None = None,
        result_ttl: int | str | None = None,
        ttl: int | str | None = None,
        failure_ttl: int | str | None = None,
        description: str | None = None,
        depends_on: DependsOn | None = None,
        job_id: str | None = None,
        at_front: bool = False,
        meta: dict[str, Any] | None = None,
        retry: Retry | None = None,
        on_success: CallbackSpec | None = None,
        on_failure: CallbackSpec | None = None,
        on_stopped: CallbackSpec | None = None,
        repeat: object = None,
        webhooks: object = None,
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
        self, job_datas: Iterable[EnqueueData], pipeline: Pipeline | None = None, group_id: str | None = None
    ) -> list[Job]:
        """Queue many prepared calls in one Redis transaction; the messages go out after it commits."""
        job_datas = list(job_datas)
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
        fields = data._asdict()
        del fields["at_front"]
        return self.create_job(**fields, group_id=group_id)

    def enqueue_job(
        self, job: Job, pipeline: Pipeline | None = None, at_front: bool = False, unique: bool = False
    ) -> Job:
        """Queue a created job, deferring it while its dependencies have not finished."""
        if unique and not job._id:
            raise ValueError("unique=True requires an explicit job_id")
        if unique and job._dependency_ids:
            raise ValueError("unique=True is not supported with job dependencies")
        job.origin = self.name
        job = dependencies.setup_dependencies(job, pipeline=pipeline)
        pipe = pipeline if pipeline is not None else self.connection.pipeline()
        pipe.sadd(self.redis_queues_keys, self.key)
        if job.get_status(refresh=False) != JobStatus.DEFERRED:
            self._enqueue_job(job, pipeline=pipe, at_front=at_front, unique=unique)
        if pipeline is None:
            pipe.execute()
        return job

    def _enqueue_job(
        self, job: Job, pipeline: Pipeline | None = None, at_front: bool = False, unique: bool = False
    ) -> Job:
        """Queue without looking at dependencies: record it, then (after the commit) publish it."""
        was_deferred = job.get_status(refresh=False) == JobStatus.DEFERRED
        enqueueing.prepare(job, self.name, self._default_timeout)
        if not self.is_async:
            return self._run_inline(job, unique)
        if unique:
            enqueueing.save_unique(job, "L" if at_front else "R")
            publish(job, at_front=at_front)
            return job
        return enqueueing.push(job, pipeline=pipeline, at_front=at_front, was_deferred=was_deferred)

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
        return execution.run_sync(job)

    def enqueue_at(self, datetime: datetime, f: Func, *args: Any, **kwargs: Any) -> Job:
        """Run `f` at `datetime` (naive means local time, as in RQ)."""
        fields = enqueueing.parse_args(f, *args, **kwargs)._asdict()
        at_front, pipeline, unique = fields.pop("at_front"), fields.pop("pipeline"), fields.pop("unique")
        job = self.create_job(status=JobStatus.SCHEDULED, **fields)
        if at_front:
            job.enqueue_at_front = True
        return self.schedule_job(job, datetime, pipeline=pipeline, unique=unique)

    def enqueue_in(self, time_delta: timedelta, func: Func, *args: Any, **kwargs: Any) -> Job:
        """Run `func` after `time_delta`."""
        return self.enqueue_at(now() + time_delta, func, *args, **kwargs)

    def schedule_job(self, job: Job, datetime: datetime, pipeline: Pipeline | None = None, unique: bool = False) -> Job:
        """Record the job as scheduled and publish it with Celery's ETA set to `datetime`."""
        if unique and not job._id:
            raise ValueError("unique=True requires an explicit job_id")
        job.origin = self.name
        if job.timeout is None:
            job.timeout = self._default_timeout
        return enqueueing.schedule(job, _aware(datetime), pipeline=pipeline, unique=unique)

    def enqueue_dependents(
        self, job: Job, exclude_job_id: str | None = None, refresh_job_status: bool = True
    ) -> dict[str, list[str]]:
        """Queue the jobs that were waiting for `job` where their dependencies are now met: {queue: [ids]}."""
        return dependencies.enqueue_dependents(
            job, exclude_job_id=exclude_job_id, refresh_job_status=refresh_job_status
        )

    def run_sync(self, job: Job) -> Job:
        """Run a job in this process."""
        return execution.run_sync(job)


def _aware(moment: datetime) -> datetime:
    """A timezone-aware datetime; a naive one is local time, as RQ's scheduler reads it."""
    if moment.tzinfo:
        return moment
    offset = -(time.timezone if time.daylight == 0 else time.altzone)
    return moment.replace(tzinfo=timezone(timedelta(seconds=offset)))
