"""Job: RQ's job API over the stored record (results, cancel, delete, requeue, dependencies, perform)."""

from __future__ import annotations

import asyncio
import warnings
from typing import TYPE_CHECKING, Any

from app.tasks.rq_compat import dependencies, keys, local, outcomes, registry
from app.tasks.rq_compat.exceptions import InvalidJobOperation
from app.tasks.rq_compat.options import Callback, JobStatus, Retry
from app.tasks.rq_compat.record import Dependency, JobRecord, parse_job_id, validate_job_id
from app.tasks.rq_compat.results import Result
from app.tasks.rq_compat.utils import as_text

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline

    from app.tasks.rq_compat.queue import Queue

__all__ = ["Callback", "Dependency", "Job", "JobStatus", "Retry", "parse_job_id", "validate_job_id"]


class Job(JobRecord):
    """A job: a function call that a worker runs, and what became of it."""

    def __repr__(self) -> str:
        return f"Job({self._id!r}, enqueued_at={self.enqueued_at!r})"

    def __str__(self) -> str:
        return f"<Job {self.id}: {self.description}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Job) and self.id == other.id

    def __hash__(self) -> int:
        return hash(self.id)

    # -- status and meta
    def get_status(self, refresh: bool = True) -> JobStatus:
        """The status, read from Redis unless refresh=False."""
        if refresh:
            status = self.connection.hget(self.key, "status")
            if not status:
                raise InvalidJobOperation(f"Failed to retrieve status for job: {self.id}")
            self._status = JobStatus(as_text(status))
        return self._status

    def set_status(self, status: JobStatus, pipeline: Pipeline | None = None) -> None:
        """Write the status field."""
        self._status = status
        (pipeline if pipeline is not None else self.connection).hset(self.key, "status", status.value)

    def get_meta(self, refresh: bool = True) -> dict[str, Any]:
        """The meta dict, reloaded from Redis unless refresh=False."""
        if refresh:
            raw = self.connection.hget(self.key, "meta")
            self.meta = self.serializer.loads(raw) if isinstance(raw, bytes) else {}
        return self.meta

    def _is(self, status: JobStatus) -> bool:
        """The stored status (read now) is `status`."""
        return self.get_status() == status

    is_finished = property(lambda self: self._is(JobStatus.FINISHED), doc="Finished (read from Redis).")
    is_queued = property(lambda self: self._is(JobStatus.QUEUED), doc="Queued (read from Redis).")
    is_failed = property(lambda self: self._is(JobStatus.FAILED), doc="Failed (read from Redis).")
    is_started = property(lambda self: self._is(JobStatus.STARTED), doc="Started (read from Redis).")
    is_deferred = property(lambda self: self._is(JobStatus.DEFERRED), doc="Deferred (read from Redis).")
    is_canceled = property(lambda self: self._is(JobStatus.CANCELED), doc="Canceled (read from Redis).")
    is_scheduled = property(lambda self: self._is(JobStatus.SCHEDULED), doc="Scheduled (read from Redis).")
    is_stopped = property(lambda self: self._is(JobStatus.STOPPED), doc="Stopped (read from Redis).")
    is_ready_to_enqueue = property(lambda self: self._is(JobStatus.READY_TO_ENQUEUE), doc="RQ 3.0's ready state.")

    def should_enqueue_at_front(self) -> bool:
        """Whether a released dependent goes to the front of its queue (RQ 3.0)."""
        return bool(self.enqueue_at_front)

    # -- results
    def latest_result(self, timeout: int = 0) -> Result | None:
        """The newest Result; with a timeout, wait up to that many seconds for one."""
        return Result.fetch_latest(self, serializer=self.serializer, timeout=timeout)

    def results(self) -> list[Result]:
        """Every stored Result, newest first."""
        return Result.all(self, serializer=self.serializer)

    def return_value(self, refresh: bool = False) -> Any:
        """The latest successful execution's return value, else None."""
        if refresh:
            self._cached_result = None
        if not self._cached_result:
            self._cached_result = self.latest_result()
        if self._cached_result and self._cached_result.type == Result.Type.SUCCESSFUL:
            return self._cached_result.return_value
        return None

    @property
    def result(self) -> Any:
        """Deprecated in RQ: the return value."""
        warnings.warn("job.result is deprecated, use job.return_value instead.", DeprecationWarning, stacklevel=2)
        return self.return_value()

    @property
    def exc_info(self) -> str | None:
        """Deprecated in RQ: the traceback text of the latest failure."""
        warnings.warn("job.exc_info is deprecated, use job.latest_result() instead.", DeprecationWarning, stacklevel=2)
        if not self._cached_result:
            self._cached_result = self.latest_result()
        if self._cached_result and self._cached_result.type == Result.Type.FAILED:
            return self._cached_result.exc_string
        return self._exc_info

    # -- queue and registries
    def get_position(self) -> int | None:
        """Where the job stands in its queue (0 is next), or None."""
        position = self.connection.lpos(keys.queue_key(self.origin), self.id) if self.origin else None
        return position if isinstance(position, int) else None

    def _registry(self, cls: type[registry.R]) -> registry.R:
        """One of this job's queue's registries."""
        return cls(self.origin, connection=self.connection, job_class=type(self), serializer=self.serializer)

    @property
    def started_job_registry(self) -> registry.StartedJobRegistry:
        """The running jobs of this job's queue."""
        return self._registry(registry.StartedJobRegistry)

    @property
    def finished_job_registry(self) -> registry.FinishedJobRegistry:
        """The finished jobs of this job's queue."""
        return self._registry(registry.FinishedJobRegistry)

    @property
    def failed_job_registry(self) -> registry.FailedJobRegistry:
        """The failed jobs of this job's queue."""
        return self._registry(registry.FailedJobRegistry)

    def _registry_for_status(self, status: str | None) -> registry.BaseRegistry | None:
        """The registry a job with `status` sits in, if any."""
        cls = registry.BY_STATUS.get(status or "")
        return self._registry(cls) if cls is not None else None

    def _remove_from_registries(self, pipeline: Pipeline | None = None, remove_from_queue: bool = True) -> None:
        """Take the job out of its queue list and whichever registry its stored status puts it in."""
        connection = pipeline if pipeline is not None else self.connection
        if remove_from_queue:
            connection.lrem(keys.queue_key(self.origin), 1, self.id)
        raw = self.connection.hget(self.key, "status")
        status = as_text(raw) if raw else None
        if status == JobStatus.STARTED.value:
            self.started_job_registry.remove_executions(self, pipeline=pipeline)
        elif (registry := self._registry_for_status(status)) is not None:
            registry.remove(self, pipeline=pipeline)

    # -- lifecycle
    def cancel(
        self, pipeline: Pipeline | None = None, enqueue_dependents: bool = False, remove_from_dependencies: bool = False
    ) -> None:
        """Cancel: a queued job never runs; it goes to the canceled registry."""
        if self.is_canceled:
            raise InvalidJobOperation(f"Cannot cancel already canceled job: {self.id}")
        pipe = pipeline if pipeline is not None else self.connection.pipeline()
        self._remove_from_registries(pipeline=pipe, remove_from_queue=True)
        if remove_from_dependencies:
            for dependency_id in self._dependency_ids:
                pipe.srem(keys.dependents_key(dependency_id), self.id)
        self.set_status(JobStatus.CANCELED, pipeline=pipe)
        self._registry(registry.CanceledJobRegistry).add(self, pipeline=pipe)
        if pipeline is None:
            pipe.execute()
        if enqueue_dependents:
            dependencies.enqueue_dependents(self, exclude_job_id=self.id)

    def requeue(self, at_front: bool = False) -> Job:
        """Put a failed (or stopped) job back on its queue."""
        return self.failed_job_registry.requeue(self, at_front=at_front)

    def delete(
        self, pipeline: Pipeline | None = None, remove_from_queue: bool = True, delete_dependents: bool = False
    ) -> None:
        """Remove the job, its results, its registry entries and (optionally) the jobs waiting for it (RQ 3.0)."""
        connection = pipeline if pipeline is not None else self.connection
        self._remove_from_registries(pipeline=pipeline, remove_from_queue=remove_from_queue)
        if delete_dependents:
            self.delete_dependents(pipeline=pipeline)
        connection.delete(self.key, self.dependents_key, self.dependencies_key, keys.results_key(self.id))

    def delete_dependents(self, pipeline: Pipeline | None = None) -> None:
        """Delete every job waiting for this one."""
        for job in self.fetch_many(self.dependent_ids, connection=self.connection, serializer=self.serializer):
            if job is not None:
                job.delete(pipeline=pipeline, remove_from_queue=False)
        (pipeline if pipeline is not None else self.connection).delete(self.dependents_key)

    def cleanup(self, ttl: int | None = None, pipeline: Pipeline | None = None, remove_from_queue: bool = True) -> None:
        """Let the record expire after ttl seconds: 0 deletes now, -1 (or None) keeps it."""
        if ttl == 0:
            self.delete(pipeline=pipeline, remove_from_queue=remove_from_queue)
        elif ttl and ttl > 0:
            connection = pipeline if pipeline is not None else self.connection
            for key in (self.key, self.dependents_key, self.dependencies_key):
                connection.expire(key, ttl)

    def get_ttl(self, default_ttl: int | None = None) -> int | None:
        """How long the queued record lives."""
        return default_ttl if self.ttl is None else self.ttl

    def get_result_ttl(self, default_ttl: int) -> int:
        """How long the result lives."""
        return default_ttl if self.result_ttl is None else self.result_ttl

    @property
    def should_retry(self) -> bool:
        """True while retries are left."""
        return self.retries_left is not None and self.retries_left > 0

    def get_retry_interval(self) -> int:
        """The wait before the next retry (RQ's indexing into the interval list)."""
        if self.retry_intervals is None:
            return 0
        index = max(len(self.retry_intervals) - (self.retries_left or 0), 0)
        return self.retry_intervals[min(index, len(self.retry_intervals) - 1)]

    def retry(self, queue: Queue, pipeline: Pipeline) -> None:
        """Queue the job again (or schedule it after its retry interval), one retry fewer."""
        outcomes.retry_job(self, pipeline)

    def perform(self) -> Any:
        """Run the function here and now, as the current job."""
        local.push(self)
        try:
            self._result = self._execute()
        finally:
            local.pop()
        return self._result

    def _execute(self) -> Any:
        """Call the function; await it when it is a coroutine."""
        if not self.func:
            raise ValueError("Cannot execute job: function is None")
        result = self.func(*self.args, **self.kwargs)
        if asyncio.iscoroutine(result):
            return asyncio.new_event_loop().run_until_complete(result)
        return result

    # -- dependencies
    @property
    def dependency_ids(self) -> list[str]:
        """Ids of the jobs this one waits for (from Redis)."""
        return [as_text(job_id) for job_id in self.connection.smembers(self.dependencies_key)]

    @property
    def dependent_ids(self) -> list[str]:
        """Ids of the jobs waiting for this one."""
        return [as_text(job_id) for job_id in self.connection.smembers(self.dependents_key)]

    @property
    def dependency(self) -> Job | None:
        """The first job this one depends on."""
        if not self._dependency_ids:
            return None
        return self.fetch(self._dependency_ids[0], connection=self.connection, serializer=self.serializer)

    def fetch_dependencies(self, watch: bool = False, pipeline: Pipeline | None = None) -> list[Job]:
        """The jobs this one depends on that still exist (WATCHed when asked)."""
        if watch and pipeline is not None and self._dependency_ids:
            pipeline.watch(*[keys.job_key(job_id) for job_id in self._dependency_ids])
        jobs = self.fetch_many(self._dependency_ids, connection=self.connection, serializer=self.serializer)
        return [job for job in jobs if job]

    def register_dependency(self, pipeline: Pipeline | None = None) -> None:
        """Record this job as deferred and as a dependent of each of its dependencies."""
        self._registry(registry.DeferredJobRegistry).add(self, pipeline=pipeline, ttl=self.ttl)
        connection = pipeline if pipeline is not None else self.connection
        for dependency_id in self._dependency_ids:
            connection.sadd(keys.dependents_key(dependency_id), self.id)
            connection.sadd(self.dependencies_key, dependency_id)

    def dependencies_are_met(
        self,
        parent_job: Job | None = None,
        pipeline: Pipeline | None = None,
        exclude_job_id: str | None = None,
        refresh_job_status: bool = True,
    ) -> bool:
        """True when every dependency finished (or failed, with allow_failure); RQ's exact rules."""
        connection = pipeline if pipeline is not None else self.connection
        if pipeline is not None and self._dependency_ids:
            pipeline.watch(*[keys.job_key(job_id) for job_id in self._dependency_ids])
        remaining = {as_text(job_id) for job_id in connection.smembers(self.dependencies_key)}
        if exclude_job_id:
            remaining.discard(exclude_job_id)
            parent_job = None if parent_job and parent_job.id == exclude_job_id else parent_job
        if parent_job:
            remaining.discard(parent_job.id)
            if not self._parent_allows(parent_job.get_status(refresh=refresh_job_status)):
                return False
            if not remaining:
                return True
        with self.connection.pipeline(transaction=False) as reads:
            for job_id in remaining:
                reads.hget(keys.job_key(job_id), "status")
            statuses = reads.execute()
        allowed = {JobStatus.FINISHED.value} | ({JobStatus.FAILED.value} if self.allow_dependency_failures else set())
        return all(as_text(status) in allowed for status in statuses if status)

    def _parent_allows(self, status: JobStatus) -> bool:
        """A canceled or stopped parent never releases; a failed one only with allow_failure."""
        if status in (JobStatus.CANCELED, JobStatus.STOPPED):
            return False
        return not (status == JobStatus.FAILED and not self.allow_dependency_failures)


def get_current_job(connection: Redis | None = None, job_class: type[Job] | None = None) -> Job | None:
    """The job being performed in this thread (inside a job), else None."""
    if connection:
        warnings.warn("connection argument for get_current_job is deprecated.", DeprecationWarning, stacklevel=2)
    return local.top()
