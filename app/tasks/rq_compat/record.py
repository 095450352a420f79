"""A job's record: its fields, and how they are stored in (and read back from) RQ's Redis hash layout."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self
from uuid import uuid4

from app.tasks.rq_compat import codec, keys
from app.tasks.rq_compat.codec import CALLBACK_KINDS
from app.tasks.rq_compat.exceptions import DeserializationError, NoSuchJobError
from app.tasks.rq_compat.options import CALLBACK_TIMEOUT, Callback, JobStatus, Retry
from app.tasks.rq_compat.utils import (
    Serializer,
    ensure_list,
    get_call_string,
    import_attribute,
    now,
    parse_timeout,
    resolve_function_reference,
    resolve_serializer,
)

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline
    from redis.typing import EncodableT, FieldT

    from app.tasks.rq_compat.results import Result

CallbackSpec = Callback | Callable[..., Any] | str

JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
UNEVALUATED: Any = object()  # Any: it stands in for any part of the call until unpickled


def validate_job_id(job_id: object) -> None:
    """RQ's rule: a custom id is a string of letters, digits, underscores and dashes."""
    if not isinstance(job_id, str):
        raise TypeError(f"Job ID must be a string, not {type(job_id)}")
    if not JOB_ID_PATTERN.fullmatch(job_id):
        raise ValueError("Job ID must only contain letters, numbers, underscores and dashes")


def parse_job_id(job_or_execution_id: str) -> str:
    """The job id out of an id or a `job_id:execution_id` composite key."""
    return job_or_execution_id.split(":")[0]


class JobRecord:
    """The stored state of a job; `Job` adds the operations."""

    redis_job_namespace_prefix = keys.JOB_PREFIX

    def __init__(
        self, id: str | None = None, connection: Redis | None = None, serializer: Serializer | str | None = None
    ) -> None:
        if not connection:
            raise TypeError("Job.__init__() missing 1 required argument: 'connection'")
        if id:
            validate_job_id(id)
        self.connection: Redis = connection
        self._id = id
        self._serializer_given = serializer is not None
        self.serializer = resolve_serializer(serializer)
        self._init_call()
        self._init_fields()

    def _init_call(self) -> None:
        """The call itself, unpickled lazily (like RQ) so status checks never import job code."""
        self._data: bytes = UNEVALUATED
        self._func_name: str | None = UNEVALUATED
        self._instance: object = UNEVALUATED
        self._args: tuple[Any, ...] | list[Any] = UNEVALUATED
        self._kwargs: dict[str, Any] = UNEVALUATED
        self._callback_names: dict[str, str | None] = dict.fromkeys(CALLBACK_KINDS)
        self._callback_timeouts: dict[str, int | None] = dict.fromkeys(CALLBACK_KINDS)

    def _init_fields(self) -> None:
        """Everything else RQ keeps on a job."""
        self.created_at: datetime = now()
        self.description: str | None = None
        self.origin = ""
        self.enqueued_at: datetime | None = None
        self.started_at: datetime | None = None
        self.ended_at: datetime | None = None
        self.last_heartbeat: datetime | None = None
        self._result: Any = None  # the function's return value: anything
        self._exc_info: str | None = None
        self.timeout: int | None = None
        self.result_ttl: int | None = None
        self.failure_ttl: int | None = None
        self.ttl: int | None = None
        self.worker_name: str | None = None
        self._status = JobStatus.CREATED
        self._dependency_ids: list[str] = []
        self.meta: dict[str, Any] = {}
        self.retries_left: int | None = None
        self.retry_intervals: list[int] | None = None
        self.enqueue_at_front_on_retry = False
        self.number_of_retries: int | None = None
        self.allow_dependency_failures: bool | None = None
        self.enqueue_at_front: bool | None = None
        self.group_id: str | None = None
        self.celery_task_id: str | None = None  # the Celery message that may run this job now
        self._cached_result: Result | None = None

    @classmethod
    def create(
        cls,
        func: Callable[..., Any] | str,
        args: list[Any] | tuple[Any, ...] | None = None,
        kwargs: dict[str, Any] | None = None,
        connection: Redis | None = None,
        result_ttl: int | None = None,
        ttl: int | None = None,
        status: JobStatus | None = None,
        description: str | None = None,
        depends_on: DependsOn | None = None,
        timeout: int | str | None = None,
        retry: Retry | None = None,
        id: str | None = None,
        origin: str = "",
        meta: dict[str, Any] | None = None,
        failure_ttl: int | None = None,
        serializer: Serializer | str | None = None,
        group_id: str | None = None,
        *,
        on_success: CallbackSpec | None = None,
        on_failure: CallbackSpec | None = None,
        on_stopped: CallbackSpec | None = None,
        webhooks: object = None,
    ) -> Self:
        """A new, unsaved job for `func(*args, **kwargs)`."""
        if webhooks:
            raise NotImplementedError("webhooks= is not supported by the Celery-backed RQ API")
        job = cls(connection=connection, serializer=serializer)
        if id is not None:
            job.id = id
        job.origin = origin or ""
        job._instance, job._func_name = resolve_function_reference(func)
        job._args, job._kwargs = (args if args is not None else ()), (kwargs if kwargs is not None else {})
        for kind, callback in (("success", on_success), ("failure", on_failure), ("stopped", on_stopped)):
            job._set_callback(kind, callback)
        job.description = description or job.get_call_string()
        job.result_ttl, job.failure_ttl = parse_timeout(result_ttl), parse_timeout(failure_ttl)
        job.ttl, job.timeout = parse_timeout(ttl), parse_timeout(timeout)
        job.meta, job.group_id = meta or {}, group_id
        if retry is not None:
            job.retries_left, job.retry_intervals = retry.max, retry.intervals
            job.enqueue_at_front_on_retry = retry.enqueue_at_front
        if depends_on is not None:
            job.process_dependencies(depends_on)
        job._status = status if status is not None else JobStatus.CREATED
        return job

    def _set_callback(self, kind: str, callback: CallbackSpec | None) -> None:
        """Store a callback by name; a bare function is accepted as RQ still does (deprecated there)."""
        if not callback:
            return
        callback = callback if isinstance(callback, Callback) else Callback(callback)
        self._callback_names[kind], self._callback_timeouts[kind] = callback.name, callback.timeout

    def process_dependencies(self, depends_on: DependsOn) -> None:
        """Accept a Job, an id, a Dependency, or a list of them."""
        dependencies: list[JobRecord | str] = []
        for item in ensure_list(depends_on):
            if isinstance(item, Dependency):
                self.enqueue_at_front = self.enqueue_at_front or item.enqueue_at_front
                self.allow_dependency_failures = self.allow_dependency_failures or item.allow_failure
                dependencies.extend(item.dependencies)
            elif isinstance(item, (JobRecord, str)):
                dependencies.append(item)
            else:
                raise ValueError(f"depends_on items must be Job objects or string job IDs, got {type(item).__name__}")
        self._dependency_ids = [dep.id if isinstance(dep, JobRecord) else dep for dep in dependencies]

    # -- identity and keys
    @property
    def id(self) -> str:
        """The job id, made (a uuid4, as RQ does) the first time it is asked for."""
        if self._id is None:
            self._id = str(uuid4())
        return self._id

    @id.setter
    def id(self, value: str) -> None:
        validate_job_id(value)
        self._id = value

    @classmethod
    def key_for(cls, job_id: str) -> str:
        """The Redis key of a job's hash."""
        return keys.job_key(job_id)

    @classmethod
    def dependents_key_for(cls, job_id: str) -> str:
        """The Redis key of a job's dependents set."""
        return keys.dependents_key(job_id)

    @property
    def key(self) -> str:
        """This job's hash key."""
        return keys.job_key(self.id)

    @property
    def dependents_key(self) -> str:
        """This job's dependents set."""
        return keys.dependents_key(self.id)

    @property
    def dependencies_key(self) -> str:
        """This job's dependencies set."""
        return keys.dependencies_key(self.id)

    # -- the call
    @property
    def data(self) -> bytes:
        """The pickled (func_name, instance, args, kwargs) tuple."""
        if self._data is UNEVALUATED:
            if self._func_name is UNEVALUATED:
                raise ValueError("Cannot build the job data")
            self._data = self.serializer.dumps(
                (self._func_name, self._value("_instance", None), self._value("_args", ()), self._value("_kwargs", {}))
            )
        return self._data

    @data.setter
    def data(self, value: bytes) -> None:
        self._data = value
        self._func_name = self._instance = self._args = self._kwargs = UNEVALUATED

    def _value(self, name: str, default: Any) -> Any:
        """An attribute of the call, or the default while it is unset."""
        value = getattr(self, name)
        return default if value is UNEVALUATED else value

    def _deserialize_data(self) -> None:
        """Unpickle the call; any error becomes DeserializationError, as in RQ."""
        try:
            self._func_name, self._instance, self._args, self._kwargs = self.serializer.loads(self.data)
        except Exception as exc:
            raise DeserializationError() from exc

    def _unpickled(self) -> Self:
        """This record, with its call unpickled on first use."""
        if self._func_name is UNEVALUATED:
            self._deserialize_data()
        return self

    @property
    def func_name(self) -> str | None:
        """The dotted name of the function."""
        return self._unpickled()._func_name

    @property
    def instance(self) -> object:
        """The bound instance, if any."""
        return self._unpickled()._instance

    @property
    def args(self) -> tuple[Any, ...] | list[Any]:
        """Positional arguments."""
        return self._unpickled()._args

    @property
    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments."""
        return self._unpickled()._kwargs

    @property
    def func(self) -> Callable[..., Any] | None:
        """The callable itself, imported on the worker."""
        if self.func_name is None:
            return None
        if self.instance:
            return getattr(self.instance, self.func_name)
        return import_attribute(self.func_name)

    def callback(self, kind: str) -> Callable[..., Any] | None:
        """The success/failure/stopped callback, imported."""
        name = self._callback_names[kind]
        return import_attribute(name) if name else None

    def callback_timeout(self, kind: str) -> int:
        """Seconds the callback may run."""
        return self._callback_timeouts[kind] or CALLBACK_TIMEOUT

    success_callback = property(lambda self: self.callback("success"))
    failure_callback = property(lambda self: self.callback("failure"))
    stopped_callback = property(lambda self: self.callback("stopped"))
    success_callback_timeout = property(lambda self: self.callback_timeout("success"))
    failure_callback_timeout = property(lambda self: self.callback_timeout("failure"))
    stopped_callback_timeout = property(lambda self: self.callback_timeout("stopped"))

    def get_call_string(self) -> str | None:
        """The call as Python source, arguments cut at 75 characters (RQ's description)."""
        return get_call_string(self.func_name, self.args, self.kwargs, max_length=75)

    # -- persistence (the field layout is codec.py's)
    def to_dict(self, include_meta: bool = True, include_result: bool = True) -> dict[FieldT, EncodableT]:
        """The hash fields, in RQ's names and formats."""
        return codec.encode(self, include_meta=include_meta, include_result=include_result)

    def save(self, pipeline: Pipeline | None = None, include_meta: bool = True, include_result: bool = True) -> None:
        """Write the whole hash."""
        (pipeline if pipeline is not None else self.connection).hset(
            self.key, mapping=self.to_dict(include_meta=include_meta, include_result=include_result)
        )

    def save_meta(self) -> None:
        """Write only `meta`, so a running job can publish progress."""
        self.connection.hset(self.key, "meta", self.serializer.dumps(self.meta))

    def refresh(self) -> None:
        """Reload every field from Redis; NoSuchJobError if the hash is gone."""
        data = self.connection.hgetall(self.key)
        if not data:
            raise NoSuchJobError(f"No such job: {self.key}")
        self.restore(data)

    def restore(self, raw_data: Mapping[Any, Any]) -> None:
        """Fill the fields from a raw Redis hash."""
        codec.decode(self, raw_data)

    @classmethod
    def fetch(cls, id: str, connection: Redis | None = None, serializer: Serializer | str | None = None) -> Self:
        """Load a job by id (or `id:execution`); NoSuchJobError if there is none."""
        job = cls(parse_job_id(id), connection=connection, serializer=serializer)
        job.refresh()
        return job

    @classmethod
    def fetch_many(
        cls, job_ids: Iterable[str], connection: Redis, serializer: Serializer | str | None = None
    ) -> list[Self | None]:
        """Load many jobs in one round trip; None where a job does not exist."""
        ids = [parse_job_id(job_id) for job_id in job_ids]
        with connection.pipeline() as pipe:
            for job_id in ids:
                pipe.hgetall(keys.job_key(job_id))
            raws = pipe.execute()
        jobs: list[Self | None] = []
        for job_id, raw in zip(ids, raws, strict=True):
            job = cls(job_id, connection=connection, serializer=serializer) if raw else None
            if job is not None:
                job.restore(raw)
            jobs.append(job)
        return jobs

    @classmethod
    def exists(cls, job_id: str, connection: Redis) -> bool:
        """True when the job's hash exists."""
        return bool(connection.exists(keys.job_key(job_id)))


class Dependency:
    """Jobs (or ids) that must finish first; allow_failure also accepts their failure."""

    def __init__(
        self,
        jobs: JobRecord | str | Sequence[JobRecord | str],
        allow_failure: bool = False,
        enqueue_at_front: bool = False,
    ) -> None:
        dependencies = ensure_list(jobs)
        if not all(isinstance(job, (JobRecord, str)) for job in dependencies if job):
            raise ValueError("jobs: must contain objects of type Job and/or strings representing Job ids")
        if not dependencies:
            raise ValueError("jobs: cannot be empty.")
        self.dependencies: list[JobRecord | str] = dependencies
        self.allow_failure = allow_failure
        self.enqueue_at_front = enqueue_at_front


DependsOn = JobRecord | str | Dependency | Sequence[JobRecord | str | Dependency]
