"""Job results, kept like RQ 2.x and 3.0 keep them: one Redis stream per job, newest entry last."""

from __future__ import annotations

import time
import zlib
from base64 import b64decode, b64encode
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, cast

from redis import connection as redis_connection

from app.tasks.rq_compat.keys import results_key
from app.tasks.rq_compat.utils import Serializer, as_text, decode_hash, now, resolve_serializer

if TYPE_CHECKING:
    from redis import Redis
    from redis.client import Pipeline
    from redis.typing import EncodableT, FieldT

    from app.tasks.rq_compat.record import JobRecord

UNSERIALIZABLE_RETURN_VALUE_PAYLOAD = "Unserializable return value"


class Result:
    """One execution's outcome: a return value or an exception text."""

    class Type(Enum):
        """What kind of outcome this is."""

        SUCCESSFUL = 1
        FAILED = 2
        STOPPED = 3
        RETRIED = 4
        MAX_RETRIES_EXCEEDED = 5

    def __init__(
        self,
        job_id: str,
        type: Type,
        connection: Redis,
        id: str | None = None,
        created_at: datetime | None = None,
        return_value: Any = None,
        exc_string: str | None = None,
        worker_name: str = "",
        serializer: Serializer | str | None = None,
        execution_id: str | None = None,
        execution_started_at: datetime | None = None,
        execution_ended_at: datetime | None = None,
    ) -> None:
        self.job_id, self.type, self.connection, self.id = job_id, type, connection, id
        self.created_at = created_at or now()
        self.return_value, self.exc_string, self.worker_name = return_value, exc_string, worker_name
        self.serializer = resolve_serializer(serializer)
        self.execution_id = execution_id
        self.execution_started_at, self.execution_ended_at = execution_started_at, execution_ended_at

    def __repr__(self) -> str:
        return f"Result(id={self.id}, type={self.Type(self.type).name})"

    def __eq__(self, other: object) -> bool:
        return getattr(other, "id", object()) == self.id

    def __bool__(self) -> bool:
        return bool(self.id)

    @classmethod
    def get_key(cls, job_id: str) -> str:
        """The stream holding a job's results."""
        return results_key(job_id)

    @classmethod
    def create(
        cls,
        job: JobRecord,
        type: Type,
        ttl: int | None,
        return_value: Any = None,
        exc_string: str | None = None,
        worker_name: str = "",
        pipeline: Pipeline | None = None,
        execution_id: str | None = None,
        execution_started_at: datetime | None = None,
        execution_ended_at: datetime | None = None,
    ) -> Result:
        """Record an outcome for `job`."""
        result = cls(
            job.id,
            type,
            job.connection,
            return_value=return_value,
            exc_string=exc_string,
            worker_name=worker_name,
            serializer=job.serializer,
            execution_id=execution_id,
            execution_started_at=execution_started_at,
            execution_ended_at=execution_ended_at,
        )
        result.save(ttl=ttl, pipeline=pipeline)
        return result

    @classmethod
    def create_failure(
        cls,
        job: JobRecord,
        ttl: int | None,
        exc_string: str,
        worker_name: str = "",
        pipeline: Pipeline | None = None,
        execution_id: str | None = None,
        execution_started_at: datetime | None = None,
        execution_ended_at: datetime | None = None,
    ) -> Result:
        """Record a failure with its traceback text."""
        return cls.create(
            job,
            cls.Type.FAILED,
            ttl,
            exc_string=exc_string,
            worker_name=worker_name,
            pipeline=pipeline,
            execution_id=execution_id,
            execution_started_at=execution_started_at,
            execution_ended_at=execution_ended_at,
        )

    @classmethod
    def create_retried(
        cls,
        job: JobRecord,
        ttl: int | None,
        return_value: Any,
        worker_name: str,
        execution_id: str | None = None,
        execution_started_at: datetime | None = None,
        execution_ended_at: datetime | None = None,
        pipeline: Pipeline | None = None,
    ) -> Result:
        """Record an execution that returned Retry(...) and will run again."""
        execution = (execution_id, execution_started_at, execution_ended_at)
        return cls._create_with(job, cls.Type.RETRIED, ttl, return_value, worker_name, execution, pipeline)

    @classmethod
    def create_max_retries_exceeded(
        cls,
        job: JobRecord,
        ttl: int | None,
        return_value: Any,
        worker_name: str,
        execution_id: str | None = None,
        execution_started_at: datetime | None = None,
        execution_ended_at: datetime | None = None,
        pipeline: Pipeline | None = None,
    ) -> Result:
        """Record an execution that returned Retry(...) once no retry was left."""
        execution = (execution_id, execution_started_at, execution_ended_at)
        return cls._create_with(job, cls.Type.MAX_RETRIES_EXCEEDED, ttl, return_value, worker_name, execution, pipeline)

    @classmethod
    def _create_with(
        cls,
        job: JobRecord,
        type: Type,
        ttl: int | None,
        return_value: Any,
        worker_name: str,
        execution: tuple[str | None, datetime | None, datetime | None],
        pipeline: Pipeline | None,
    ) -> Result:
        """create() with the execution given as one (id, started_at, ended_at) triple."""
        execution_id, started_at, ended_at = execution
        return cls.create(
            job,
            type,
            ttl,
            return_value=return_value,
            worker_name=worker_name,
            pipeline=pipeline,
            execution_id=execution_id,
            execution_started_at=started_at,
            execution_ended_at=ended_at,
        )

    @classmethod
    def fetch(cls, job: JobRecord, serializer: Serializer | str | None = None) -> Result | None:
        """RQ keeps this for compatibility and always answers None; so do we."""
        return None

    @classmethod
    def all(cls, job: JobRecord, serializer: Serializer | str | None = None) -> list[Result]:
        """Every stored result of `job`, newest first."""
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], job.connection.xrevrange(results_key(job.id), "+", "-"))
        return [
            cls.restore(job.id, as_text(entry_id), payload, job.connection, serializer) for entry_id, payload in entries
        ]

    @classmethod
    def count(cls, job: JobRecord) -> int:
        """How many results are stored."""
        return job.connection.xlen(results_key(job.id))

    @classmethod
    def delete_all(cls, job: JobRecord) -> None:
        """Forget every result of `job`."""
        job.connection.delete(results_key(job.id))

    @classmethod
    def fetch_latest(
        cls, job: JobRecord, serializer: Serializer | str | None = None, timeout: int = 0
    ) -> Result | None:
        """The newest result; with a timeout, block up to that many seconds for the first one."""
        key = results_key(job.id)
        if timeout:
            response = _wait_for_entry(job.connection, key, timeout)
            if not response:
                return None
            entry_id, payload = response[0][1][-1]
        else:
            response = job.connection.xrevrange(key, "+", "-", count=1)
            if not response:
                return None
            entry_id, payload = response[0]
        return cls.restore(job.id, as_text(entry_id), payload, job.connection, serializer or job.serializer)

    @classmethod
    def restore(
        cls,
        job_id: str,
        result_id: str,
        payload: dict[bytes, bytes],
        connection: Redis,
        serializer: Serializer | str | None = None,
    ) -> Result:
        """A Result from one stream entry."""
        fields = decode_hash(payload)
        serializer = resolve_serializer(serializer)
        value = fields.get("return_value")
        exc = fields.get("exc_string")
        return cls(
            job_id,
            cls.Type(int(fields["type"])),
            connection,
            id=result_id,
            created_at=datetime.fromtimestamp(int(result_id.split("-")[0]) / 1000, tz=UTC),
            return_value=serializer.loads(b64decode(value)) if value is not None else None,
            exc_string=zlib.decompress(b64decode(exc)).decode() if exc else None,
            worker_name=as_text(fields.get("worker_name", b"")),
            serializer=serializer,
            execution_id=as_text(fields["execution_id"]) if fields.get("execution_id") else None,
            execution_started_at=_stamp(fields.get("execution_started_at")),
            execution_ended_at=_stamp(fields.get("execution_ended_at")),
        )

    def save(self, ttl: int | None, pipeline: Pipeline | None = None) -> str | None:
        """Append to the job's stream (capped at 10 entries) and set the stream's expiry."""
        connection = pipeline if pipeline is not None else self.connection
        entry_id = connection.xadd(self.get_key(self.job_id), self.serialize(), maxlen=10)
        if pipeline is None:
            self.id = as_text(entry_id)
        if ttl is not None:
            if ttl == -1:
                connection.persist(self.get_key(self.job_id))
            else:
                connection.expire(self.get_key(self.job_id), ttl)
        return self.id

    def serialize(self) -> dict[FieldT, EncodableT]:
        """The stream entry's fields, as RQ writes them."""
        data: dict[FieldT, EncodableT] = {"type": self.type.value, "worker_name": self.worker_name}
        if self.exc_string is not None:
            data["exc_string"] = b64encode(zlib.compress(self.exc_string.encode())).decode()
        if self.return_value is not None:
            try:
                serialized = self.serializer.dumps(self.return_value)
            except Exception:
                serialized = self.serializer.dumps(UNSERIALIZABLE_RETURN_VALUE_PAYLOAD)
            data["return_value"] = b64encode(serialized).decode()
        if self.execution_id:
            data["execution_id"] = self.execution_id
        for name in ("execution_started_at", "execution_ended_at"):
            if getattr(self, name):
                data[name] = getattr(self, name).timestamp()
        return data


def _wait_for_entry(connection: Redis, key: str, timeout: float) -> Any:
    """XREAD BLOCK for up to `timeout` seconds; None if nothing arrived."""
    # In slices shorter than the client's socket timeout (5 s by default since redis-py 8): one long BLOCK would
    # end in a socket TimeoutError.
    socket_timeout = connection.connection_pool.connection_kwargs.get(
        "socket_timeout", getattr(redis_connection, "DEFAULT_SOCKET_TIMEOUT", None)
    )
    step = timeout if not socket_timeout else max(0.1, min(timeout, socket_timeout * 0.8))
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        response = connection.xread({key: "0-0"}, block=max(1, int(min(step, remaining) * 1000)))
        if response:
            return response
    return None


def _stamp(value: bytes | None) -> datetime | None:
    return datetime.fromtimestamp(float(value), tz=UTC) if value else None
