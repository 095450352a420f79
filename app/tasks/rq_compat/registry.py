"""Job registries: one sorted set per queue and state, scored by expiry time, exactly as RQ keeps them."""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from app.tasks.rq_compat import keys
from app.tasks.rq_compat.exceptions import InvalidJobOperation, NoSuchJobError
from app.tasks.rq_compat.utils import as_text, current_timestamp, resolve_serializer

DEFAULT_FAILURE_TTL = 365 * 24 * 3600


def _score(ttl: int) -> int | str:
    """Expiry score: now + ttl, or +inf for ttl -1 (never)."""
    if ttl == -1:
        return "+inf"
    return ttl if ttl < 0 else current_timestamp() + ttl


class BaseRegistry:
    """A sorted set of job ids of one queue, scored by when each entry expires."""

    kind = "registry"

    def __init__(
        self,
        name: str = "default",
        connection: Any = None,
        job_class: Any = None,
        queue: Any = None,
        serializer: Any = None,
        death_penalty_class: Any = None,
    ) -> None:
        from app.tasks.rq_compat.job import Job

        if queue is not None:
            self.name, self.connection, self.serializer = queue.name, queue.connection, queue.serializer
        else:
            self.name, self.connection = name, connection
            self.serializer = resolve_serializer(serializer)
        self.job_class = job_class or Job
        self.key = keys.registry_key(self.kind, self.name)

    def __len__(self) -> int:
        return self.count

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BaseRegistry) and (self.key, self.connection) == (other.key, other.connection)

    def __contains__(self, item: Any) -> bool:
        job_id = item.id if isinstance(item, self.job_class) else item
        return self.connection.zscore(self.key, job_id) is not None

    @property
    def count(self) -> int:
        """How many jobs are in the registry, after dropping expired entries."""
        return self.get_job_count(cleanup=True)

    def get_job_count(self, cleanup: bool = True) -> int:
        """How many jobs are in the registry."""
        if cleanup:
            self.cleanup()
        return self.connection.zcard(self.key)

    def add(self, job: Any, ttl: int = 0, pipeline: Any = None, xx: bool = False) -> Any:
        """Add a job, expiring after ttl seconds (-1: never)."""
        return (pipeline if pipeline is not None else self.connection).zadd(self.key, {job.id: _score(ttl)}, xx=xx)

    def remove(self, job: Any, pipeline: Any = None, delete_job: bool = False) -> Any:
        """Take a job out (and delete it when asked)."""
        job_id = job.id if isinstance(job, self.job_class) else job
        result = (pipeline if pipeline is not None else self.connection).zrem(self.key, job_id)
        if delete_job:
            instance = (
                job
                if isinstance(job, self.job_class)
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

    def get_queue(self) -> Any:
        """The queue this registry belongs to."""
        from app.tasks.rq_compat.queue import Queue

        return Queue(self.name, connection=self.connection, serializer=self.serializer)

    def get_expiration_time(self, job: Any) -> datetime:
        """When the job's entry expires."""
        return datetime.fromtimestamp(self.connection.zscore(self.key, job.id), UTC)

    def requeue(self, job_or_id: Any, at_front: bool = False) -> Any:
        """Put a job from this registry back on its queue; InvalidJobOperation if it is not here."""
        job = (
            job_or_id
            if isinstance(job_or_id, self.job_class)
            else self.job_class.fetch(job_or_id, connection=self.connection, serializer=self.serializer)
        )
        if not self.connection.zrem(self.key, job.id):
            raise InvalidJobOperation
        job.started_at = job.ended_at = None
        job._exc_info = ""
        job.save()
        from app.tasks.rq_compat.queue import Queue

        return Queue(job.origin, connection=self.connection, serializer=job.serializer)._enqueue_job(
            job, at_front=at_front
        )

    @staticmethod
    def parse_job_id(entry: bytes | str) -> str:
        """The job id of an entry."""
        return as_text(entry)

    def cleanup(self, timestamp: float | None = None, exception_handlers: list | None = None) -> None:
        """Nothing to clean for a plain registry."""


class _ExpiringRegistry(BaseRegistry):
    """Entries simply disappear once they expire."""

    def cleanup(self, timestamp: float | None = None, exception_handlers: list | None = None) -> None:
        """Drop expired entries."""
        self.connection.zremrangebyscore(self.key, 0, timestamp if timestamp is not None else current_timestamp())


class FinishedJobRegistry(_ExpiringRegistry):
    """Jobs that finished, kept for their result_ttl."""

    kind = "finished"


class FailedJobRegistry(_ExpiringRegistry):
    """Jobs that failed (or were stopped), kept for their failure_ttl (default one year)."""

    kind = "failed"

    def add(
        self,
        job: Any,
        ttl: int | None = None,
        exc_string: str = "",
        pipeline: Any = None,  # type: ignore[override]
        xx: bool = False,
    ) -> None:
        """Add a failed job and let its record live as long as the entry."""
        ttl = DEFAULT_FAILURE_TTL if ttl is None else ttl
        pipe = pipeline if pipeline is not None else self.connection.pipeline()
        job._exc_info = exc_string
        job.save(pipeline=pipe, include_meta=False, include_result=False)
        job.cleanup(ttl=ttl, pipeline=pipe)
        pipe.zadd(self.key, {job.id: _score(ttl)})
        if pipeline is None:
            pipe.execute()


class DeferredJobRegistry(BaseRegistry):
    """Jobs waiting for their dependencies; entries never expire."""

    kind = "deferred"

    def add(self, job: Any, ttl: int | None = None, pipeline: Any = None, xx: bool = False) -> Any:
        """Add a job, scored by when it was deferred."""
        connection = pipeline if pipeline is not None else self.connection
        return connection.zadd(self.key, {job.id: current_timestamp()}, xx=xx)


class ScheduledJobRegistry(BaseRegistry):
    """Jobs waiting for their time, scored by it."""

    kind = "scheduled"

    def schedule(self, job: Any, scheduled_datetime: datetime, pipeline: Any = None) -> Any:
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

    def get_scheduled_time(self, job_or_id: Any) -> datetime:
        """When the job is due; NoSuchJobError if it is not scheduled."""
        job_id = job_or_id.id if isinstance(job_or_id, self.job_class) else job_or_id
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

    def add(self, job: Any, ttl: int = 0, pipeline: Any = None, xx: bool = False) -> Any:
        """Executions are added by the worker's claim, not by hand (as in RQ)."""
        raise NotImplementedError()

    def remove(self, job: Any, pipeline: Any = None, delete_job: bool = False) -> Any:
        """Use remove_executions (as in RQ)."""
        raise NotImplementedError()

    @staticmethod
    def parse_job_id(entry: bytes | str) -> str:
        """The job id of a `job_id:execution_id` entry."""
        return as_text(entry).split(":")[0]

    def __contains__(self, item: Any) -> bool:
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

    def remove_executions(self, job: Any, pipeline: Any = None) -> None:
        """Drop every running entry of `job`."""
        entries = [entry for entry in self.connection.zrange(self.key, 0, -1) if self.parse_job_id(entry) == job.id]
        if entries:
            (pipeline if pipeline is not None else self.connection).zrem(self.key, *entries)

    def cleanup(self, timestamp: float | None = None, exception_handlers: list | None = None) -> None:
        """Jobs past their deadline lost their worker: fail them (or retry), as RQ's AbandonedJobError does."""
        from app.tasks.rq_compat.execution import abandon

        score = timestamp if timestamp is not None else current_timestamp()
        for entry in self.connection.zrangebyscore(self.key, 0, score):
            job_id, _, dispatch_id = as_text(entry).partition(":")
            abandon(self.connection, job_id, dispatch_id, self.serializer)
        self.connection.zremrangebyscore(self.key, 0, score)
