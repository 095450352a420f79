"""Job registries: one sorted set per queue and state, scored by expiry time, exactly as RQ keeps them."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from app.tasks.rq_compat import enqueueing, execution, keys, outcomes
from app.tasks.rq_compat.exceptions import InvalidJobOperation, NoSuchJobError
from app.tasks.rq_compat.outcomes import DEFAULT_FAILURE_TTL, score
from app.tasks.rq_compat.utils import Serializer, as_text, current_timestamp, resolve_serializer

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from app.tasks.rq_compat.job import Job
    from app.tasks.rq_compat.queue import Queue

__all__ = ["DEFAULT_FAILURE_TTL", "BaseRegistry"]


class BaseRegistry:
    """A sorted set of job ids of one queue, scored by when each entry expires.

    Jobs and queues hand out registries, so this module sits below both: the package binds the classes a
    registry made on its own gives back (default_job_class = Job, default_queue_class = Queue) in __init__.py.
    """

    kind = "registry"
    default_job_class: ClassVar[type[Job]]
    default_queue_class: ClassVar[type[Queue]]

    def __init__(
        self,
        name: str = "default",
        connection: Redis | None = None,
        job_class: type[Job] | None = None,
        queue: Queue | None = None,
        serializer: Serializer | str | None = None,
        death_penalty_class: object = None,
    ) -> None:
        if queue is not None:
            self.name, self.connection, self.serializer = queue.name, queue.connection, queue.serializer
        elif connection is None:
            raise TypeError("a registry needs a connection or a queue")
        else:
            self.name, self.connection = name, connection
            self.serializer = resolve_serializer(serializer)
        self.job_class: type[Job] = job_class or (queue.job_class if queue is not None else self.default_job_class)
        self.key = keys.registry_key(self.kind, self.name)

    def __len__(self) -> int:
        return self.count

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BaseRegistry) and (self.key, self.connection) == (other.key, other.connection)

    def __contains__(self, item: object) -> bool:
        job_id = item.id if isinstance(item, self.job_class) else item
        return self.connection.zscore(self.key, job_id) is not None  # type: ignore[arg-type]

    @property
    def count(self) -> int:
        """How many jobs are in the registry, after dropping expired entries."""
        return self.get_job_count(cleanup=True)

    def get_job_count(self, cleanup: bool = True) -> int:
        """How many jobs are in the registry."""
        if cleanup:
            self.cleanup()
        return self.connection.zcard(self.key)

    def add(self, job: Job, ttl: int = 0, pipeline: Pipeline | None = None, xx: bool = False) -> object:
        """Add a job, expiring after ttl seconds (-1: never)."""
        return (pipeline if pipeline is not None else self.connection).zadd(self.key, {job.id: score(ttl)}, xx=xx)

    def remove(self, job: Job | str, pipeline: Pipeline | None = None, delete_job: bool = False) -> object:
        """Take a job out (and delete it when asked)."""
        job_id = job.id if not isinstance(job, str) else job
        result = (pipeline if pipeline is not None else self.connection).zrem(self.key, job_id)
        if delete_job:
            instance = (
                job
                if not isinstance(job, str)
                else self.job_class.fetch(job_id, connection=self.connection, serializer=self.serializer)
            )
            instance.delete()
        return result

    def get_expired_job_ids(self, timestamp: float | None = None) -> list[str]:
        """Ids whose entries expired before `timestamp` (default: now)."""
        score = timestamp if timestamp is not None else current_timestamp()
        return [self.parse_job_id(entry) for entry in self.connection.zrangebyscore(self.key, 0, score)]

    def get_job_ids(self, start: int = 0, end: int = -1, desc: bool = False, cleanup: bool = True) -> list[str]:
        """Ids in the registry, oldest expiry first."""
        if cleanup:
            self.cleanup()
        return [self.parse_job_id(entry) for entry in self.connection.zrange(self.key, start, end, desc=desc)]

    def get_queue(self) -> Queue:
        """The queue this registry belongs to."""
        return self.default_queue_class(self.name, connection=self.connection, serializer=self.serializer)

    def get_expiration_time(self, job: Job) -> datetime:
        """When the job's entry expires."""
        return datetime.fromtimestamp(self.connection.zscore(self.key, job.id) or 0, UTC)

    def requeue(self, job_or_id: Job | str, at_front: bool = False) -> Job:
        """Put a job from this registry back on its queue; InvalidJobOperation if it is not here."""
        job = (
            job_or_id
            if not isinstance(job_or_id, str)
            else self.job_class.fetch(job_or_id, connection=self.connection, serializer=self.serializer)
        )
        if not self.connection.zrem(self.key, job.id):
            raise InvalidJobOperation
        job.started_at = job.ended_at = None
        job._exc_info = ""
        job.save()
        return enqueueing.enqueue(job, job.origin, at_front=at_front)

    @staticmethod
    def parse_job_id(entry: object) -> str:
        """The job id of an entry."""
        return as_text(entry)

    def cleanup(self, timestamp: float | None = None, exception_handlers: list[Any] | None = None) -> None:
        """Nothing to clean for a plain registry."""


class _ExpiringRegistry(BaseRegistry):
    """Entries simply disappear once they expire."""

    def cleanup(self, timestamp: float | None = None, exception_handlers: list[Any] | None = None) -> None:
        """Drop expired entries."""
        self.connection.zremrangebyscore(self.key, 0, timestamp if timestamp is not None else current_timestamp())


class FinishedJobRegistry(_ExpiringRegistry):
    """Jobs that finished, kept for their result_ttl."""

    kind = "finished"


class FailedJobRegistry(_ExpiringRegistry):
    """Jobs that failed (or were stopped), kept for their failure_ttl (default one year)."""

    kind = "failed"

    def add(  # type: ignore[override]  # RQ's signature: exc_string, no xx
        self, job: Job, ttl: int | None = None, exc_string: str = "", pipeline: Pipeline | None = None
    ) -> None:
        """Add a failed job and let its record live as long as the entry."""
        pipe = pipeline if pipeline is not None else self.connection.pipeline()
        outcomes.add_failed(job, ttl, exc_string, pipe)
        if pipeline is None:
            pipe.execute()


class DeferredJobRegistry(BaseRegistry):
    """Jobs waiting for their dependencies; entries never expire."""

    kind = "deferred"

    def add(self, job: Job, ttl: int | None = None, pipeline: Pipeline | None = None, xx: bool = False) -> object:
        """Add a job, scored by when it was deferred."""
        connection = pipeline if pipeline is not None else self.connection
        return connection.zadd(self.key, {job.id: current_timestamp()}, xx=xx)


class ScheduledJobRegistry(BaseRegistry):
    """Jobs waiting for their time, scored by it."""

    kind = "scheduled"

    def schedule(self, job: Job, scheduled_datetime: datetime, pipeline: Pipeline | None = None) -> object:
        """Add a job for `scheduled_datetime` (a naive datetime is local time, as in RQ)."""
        if not scheduled_datetime.tzinfo:
            offset = -(time.timezone if time.daylight == 0 else time.altzone)
            scheduled_datetime = scheduled_datetime.replace(tzinfo=timezone(timedelta(seconds=offset)))
        stamp = calendar.timegm(scheduled_datetime.utctimetuple())
        return (pipeline if pipeline is not None else self.connection).zadd(self.key, {job.id: stamp})

    def get_jobs_to_schedule(self, timestamp: int | None = None, chunk_size: int = 1000) -> list[str]:
        """Ids whose time has come."""
        score = timestamp if timestamp is not None else current_timestamp()
        return [as_text(entry) for entry in self.connection.zrangebyscore(self.key, 0, score, start=0, num=chunk_size)]

    get_jobs_to_enqueue = BaseRegistry.get_expired_job_ids

    def get_scheduled_time(self, job_or_id: Job | str) -> datetime:
        """When the job is due; NoSuchJobError if it is not scheduled."""
        job_id = job_or_id.id if not isinstance(job_or_id, str) else job_or_id
        score = self.connection.zscore(self.key, job_id)
        if not score:
            raise NoSuchJobError
        return datetime.fromtimestamp(score, tz=UTC)


class CanceledJobRegistry(BaseRegistry):
    """Jobs that were canceled."""

    kind = "canceled"

    def get_expired_job_ids(self, timestamp: float | None = None) -> list[str]:
        """Canceled entries do not expire."""
        raise NotImplementedError


class StartedJobRegistry(BaseRegistry):
    """Jobs running now; entries are `job_id:execution_id` (here the Celery task id), scored by a deadline."""

    kind = "started"

    def add(self, job: Job, ttl: int = 0, pipeline: Pipeline | None = None, xx: bool = False) -> object:
        """Executions are added by the worker's claim, not by hand (as in RQ)."""
        raise NotImplementedError()

    def remove(self, job: Job | str, pipeline: Pipeline | None = None, delete_job: bool = False) -> object:
        """Use remove_executions (as in RQ)."""
        raise NotImplementedError()

    @staticmethod
    def parse_job_id(entry: object) -> str:
        """The job id of a `job_id:execution_id` entry."""
        return as_text(entry).split(":")[0]

    def __contains__(self, item: object) -> bool:
        job_id = item.id if isinstance(item, self.job_class) else item
        return job_id in self.get_job_ids(cleanup=False)

    def get_job_and_execution_ids(
        self, start: int = 0, end: int = -1, desc: bool = False, cleanup: bool = True
    ) -> list[tuple[str, str]]:
        """(job id, execution id) pairs."""
        if cleanup:
            self.cleanup()
        entries = self.connection.zrange(self.key, start, end, desc=desc)
        return [tuple(as_text(entry).split(":", 1)) for entry in entries]  # type: ignore[misc]

    def remove_executions(self, job: Job, pipeline: Pipeline | None = None) -> None:
        """Drop every running entry of `job`."""
        entries = [as_text(entry) for entry in self.connection.zrange(self.key, 0, -1)]
        entries = [entry for entry in entries if self.parse_job_id(entry) == job.id]
        if entries:
            (pipeline if pipeline is not None else self.connection).zrem(self.key, *entries)

    def cleanup(self, timestamp: float | None = None, exception_handlers: list[Any] | None = None) -> None:
        """Jobs past their deadline lost their worker: fail them (or retry), as RQ's AbandonedJobError does."""
        limit = timestamp if timestamp is not None else current_timestamp()
        for entry in self.connection.zrangebyscore(self.key, 0, limit):
            job_id, _, dispatch_id = as_text(entry).partition(":")
            execution.abandon(self.connection, self.job_class, job_id, dispatch_id, self.serializer)
        self.connection.zremrangebyscore(self.key, 0, limit)


R = TypeVar("R", bound=BaseRegistry)
# Where a job with a given stored status sits (a stopped job is kept with the failed ones, as in RQ).
BY_STATUS: dict[str, type[BaseRegistry]] = {
    "finished": FinishedJobRegistry,
    "deferred": DeferredJobRegistry,
    "scheduled": ScheduledJobRegistry,
    "failed": FailedJobRegistry,
    "stopped": FailedJobRegistry,
    "canceled": CanceledJobRegistry,
}
