"""A job's record: its fields, and how they are stored in (and read back from) RQ's Redis hash layout."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import uuid4

from app.tasks.rq_compat import keys
from app.tasks.rq_compat.exceptions import DeserializationError, NoSuchJobError
from app.tasks.rq_compat.options import CALLBACK_TIMEOUT, Callback, Dependency, JobStatus, Retry
from app.tasks.rq_compat.utils import (
    as_text,
    decode_hash,
    ensure_list,
    get_call_string,
    import_attribute,
    now,
    parse_timeout,
    resolve_function_reference,
    resolve_serializer,
    serializer_path,
    utcformat,
    utcparse,
)

JOB_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
UNEVALUATED: Any = object()
CALLBACK_KINDS = ("success", "failure", "stopped")


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

    def __init__(self, id: str | None = None, connection: Any = None, serializer: Any = None) -> None:
        if not connection:
            raise TypeError("Job.__init__() missing 1 required argument: 'connection'")
        if id:
            validate_job_id(id)
        self.connection = connection
        self._id = id
        self._serializer_given = serializer is not None
        self.serializer = resolve_serializer(serializer)
        self._init_call()
        self._init_fields()

    def _init_call(self) -> None:
        """The call itself, unpickled lazily (like RQ) so status checks never import job code."""
        self._data: Any = UNEVALUATED
        self._func_name: Any = UNEVALUATED
        self._instance: Any = UNEVALUATED
        self._args: Any = UNEVALUATED
        self._kwargs: Any = UNEVALUATED
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
        self._result: Any = None
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
        self._cached_result: Any = None

    @classmethod
    def create(
        cls,
        func: Any,
        args: list | tuple | None = None,
        kwargs: dict | None = None,
        connection: Any = None,
        result_ttl: int | None = None,
        ttl: int | None = None,
        status: JobStatus | None = None,
        description: str | None = None,
        depends_on: Any = None,
        timeout: int | str | None = None,
        retry: Retry | None = None,
        id: str | None = None,
        origin: str = "",
        meta: dict | None = None,
        failure_ttl: int | None = None,
        serializer: Any = None,
        group_id: str | None = None,
        *,
        on_success: Any = None,
        on_failure: Any = None,
        on_stopped: Any = None,
    ) -> Any:
        """A new, unsaved job for `func(*args, **kwargs)`."""
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

    def _set_callback(self, kind: str, callback: Any) -> None:
        """Store a callback by name; a bare function is accepted as RQ still does (deprecated there)."""
        if not callback:
            return
        callback = callback if isinstance(callback, Callback) else Callback(callback)
        self._callback_names[kind], self._callback_timeouts[kind] = callback.name, callback.timeout

    def process_dependencies(self, depends_on: Any) -> None:
        """Accept a Job, an id, a Dependency, or a list of them."""
        from app.tasks.rq_compat.job import Job

        dependencies: list = []
        for item in ensure_list(depends_on):
            if isinstance(item, Dependency):
                self.enqueue_at_front = self.enqueue_at_front or item.enqueue_at_front
                self.allow_dependency_failures = self.allow_dependency_failures or item.allow_failure
                dependencies.extend(item.dependencies)
            elif isinstance(item, (Job, str)):
                dependencies.append(item)
            else:
                raise ValueError(f"depends_on items must be Job objects or string job IDs, got {type(item).__name__}")
        self._dependency_ids = [dep.id if isinstance(dep, Job) else dep for dep in dependencies]

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

    def _call_part(self, name: str) -> Any:
        """One part of the call, unpickling on first use."""
        if getattr(self, name) is UNEVALUATED:
            self._deserialize_data()
        return getattr(self, name)

    func_name = property(lambda self: self._call_part("_func_name"), doc="The dotted name of the function.")
    instance = property(lambda self: self._call_part("_instance"), doc="The bound instance, if any.")
    args = property(lambda self: self._call_part("_args"), doc="Positional arguments.")
    kwargs = property(lambda self: self._call_part("_kwargs"), doc="Keyword arguments.")

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

    # -- persistence
    def to_dict(self, include_meta: bool = True, include_result: bool = True) -> dict[str, Any]:
        """The hash fields, in RQ 2.x's names and formats (plus celery_task_id, which RQ ignores)."""
        obj: dict[str, Any] = {
            "created_at": utcformat(self.created_at or now()),
            "data": zlib.compress(self.data),
            "started_at": _fmt(self.started_at),
            "ended_at": _fmt(self.ended_at),
            "last_heartbeat": _fmt(self.last_heartbeat),
            "worker_name": self.worker_name or "",
            "group_id": self.group_id or "",
            "status": self._status.value,
        }
        for kind in CALLBACK_KINDS:
            obj[f"{kind}_callback_name"] = self._callback_names[kind] or ""
            if self._callback_timeouts[kind] is not None:
                obj[f"{kind}_callback_timeout"] = self._callback_timeouts[kind]
        obj.update(self._optional_fields(include_meta, include_result))
        return obj

    def _optional_fields(self, include_meta: bool, include_result: bool) -> dict[str, Any]:
        """The fields RQ writes only when they have a value."""
        fields: dict[str, Any] = {
            "number_of_retries": self.number_of_retries,
            "retries_left": self.retries_left,
            "retry_intervals": json.dumps(self.retry_intervals) if self.retry_intervals is not None else None,
            "enqueue_at_front_on_retry": 1 if self.enqueue_at_front_on_retry else None,
            "origin": self.origin or None,
            "description": self.description,
            "enqueued_at": _fmt(self.enqueued_at) or None,
            "timeout": self.timeout,
            "result_ttl": self.result_ttl,
            "failure_ttl": self.failure_ttl,
            "ttl": self.ttl or None,
            "allow_dependency_failures": _int(self.allow_dependency_failures),
            "enqueue_at_front": _int(self.enqueue_at_front),
            "celery_task_id": self.celery_task_id,
            "serializer": serializer_path(self.serializer) or None,
        }
        if self._dependency_ids:
            fields["dependency_id"] = self._dependency_ids[0]
            fields["dependency_ids"] = json.dumps(self._dependency_ids)
        if self.meta and include_meta:
            fields["meta"] = self.serializer.dumps(self.meta)
        if self._exc_info is not None and include_result:
            fields["exc_info"] = zlib.compress(str(self._exc_info).encode("utf-8"))
        return {key: value for key, value in fields.items() if value is not None}

    def save(self, pipeline: Any = None, include_meta: bool = True, include_result: bool = True) -> None:
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

    def restore(self, raw: dict) -> None:
        """Fill the fields from a raw Redis hash."""
        obj = decode_hash(raw)
        if "data" not in obj:
            raise NoSuchJobError(f"Unexpected job format: {obj}")
        if obj.get("serializer") and not self._serializer_given:
            self.serializer = resolve_serializer(as_text(obj["serializer"]))
        try:
            self.data = zlib.decompress(obj["data"])
        except zlib.error:
            self.data = obj["data"]
        self._restore_times(obj)
        self._restore_settings(obj)
        self._restore_callbacks(obj)

    def _restore_times(self, obj: dict[str, bytes]) -> None:
        """Timestamps and the identity fields."""
        self.created_at = utcparse(obj["created_at"]) if obj.get("created_at") else now()
        self.enqueued_at, self.started_at = _date(obj.get("enqueued_at")), _date(obj.get("started_at"))
        self.ended_at, self.last_heartbeat = _date(obj.get("ended_at")), _date(obj.get("last_heartbeat"))
        self.origin = _text(obj.get("origin")) or ""
        self.worker_name = _text(obj.get("worker_name"))
        self.description = _text(obj.get("description"))
        self.group_id = _text(obj.get("group_id"))
        self.celery_task_id = _text(obj.get("celery_task_id"))
        self._status = JobStatus(as_text(obj["status"])) if obj.get("status") else JobStatus.CREATED

    def _restore_settings(self, obj: dict[str, bytes]) -> None:
        """TTLs, retries, dependencies, meta and the stored exception text."""
        self.timeout = parse_timeout(obj["timeout"]) if obj.get("timeout") else None
        self.result_ttl, self.failure_ttl = _number(obj.get("result_ttl")), _number(obj.get("failure_ttl"))
        self.ttl = _number(obj.get("ttl"))
        self.retries_left, self.number_of_retries = (
            _number(obj.get("retries_left")),
            _number(obj.get("number_of_retries")),
        )
        self.retry_intervals = json.loads(obj["retry_intervals"]) if obj.get("retry_intervals") else None
        self.enqueue_at_front_on_retry = bool(_number(obj.get("enqueue_at_front_on_retry")))
        ids, single = obj.get("dependency_ids"), obj.get("dependency_id")
        self._dependency_ids = json.loads(ids) if ids else ([as_text(single)] if single else [])
        allow = obj.get("allow_dependency_failures")
        self.allow_dependency_failures = bool(int(allow)) if allow else None
        self.enqueue_at_front = bool(int(obj["enqueue_at_front"])) if "enqueue_at_front" in obj else None
        try:
            self.meta = self.serializer.loads(obj["meta"]) if obj.get("meta") else {}
        except Exception:
            self.meta = {"unserialized": obj.get("meta", {})}
        raw_exc = obj.get("exc_info")
        self._exc_info = _unzip_text(raw_exc) if raw_exc else None

    def _restore_callbacks(self, obj: dict[str, bytes]) -> None:
        """Callback names and timeouts."""
        for kind in CALLBACK_KINDS:
            self._callback_names[kind] = _text(obj.get(f"{kind}_callback_name"))
            if f"{kind}_callback_timeout" in obj:
                self._callback_timeouts[kind] = int(obj[f"{kind}_callback_timeout"])

    @classmethod
    def fetch(cls, id: str, connection: Any = None, serializer: Any = None) -> Any:
        """Load a job by id (or `id:execution`); NoSuchJobError if there is none."""
        job = cls(parse_job_id(id), connection=connection, serializer=serializer)
        job.refresh()
        return job

    @classmethod
    def fetch_many(cls, job_ids: Iterable[str], connection: Any, serializer: Any = None) -> list[Any]:
        """Load many jobs in one round trip; None where a job does not exist."""
        ids = [parse_job_id(job_id) for job_id in job_ids]
        with connection.pipeline() as pipe:
            for job_id in ids:
                pipe.hgetall(keys.job_key(job_id))
            raws = pipe.execute()
        jobs: list[Any] = []
        for job_id, raw in zip(ids, raws, strict=True):
            job = cls(job_id, connection=connection, serializer=serializer) if raw else None
            if job is not None:
                job.restore(raw)
            jobs.append(job)
        return jobs

    @classmethod
    def exists(cls, job_id: str, connection: Any) -> bool:
        """True when the job's hash exists."""
        return bool(connection.exists(keys.job_key(job_id)))


def _fmt(moment: datetime | None) -> str:
    return utcformat(moment) if moment else ""


def _int(flag: bool | None) -> int | None:
    return None if flag is None else int(flag)


def _date(value: bytes | None) -> datetime | None:
    return utcparse(value) if value else None


def _text(value: bytes | None) -> str | None:
    return as_text(value) if value else None


def _number(value: bytes | None) -> int | None:
    return int(value) if value else None


def _unzip_text(raw: bytes) -> str:
    try:
        return as_text(zlib.decompress(raw))
    except zlib.error:
        return as_text(raw)
