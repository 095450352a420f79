"""The record codec: a job's fields to RQ's Redis hash layout and back (RQ 2.x and 3.0 share it)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.tasks.rq_compat.exceptions import NoSuchJobError
from app.tasks.rq_compat.options import JobStatus
from app.tasks.rq_compat.utils import (
    as_text,
    decode_hash,
    now,
    parse_timeout,
    resolve_serializer,
    serializer_path,
    utcformat,
    utcparse,
)

if TYPE_CHECKING:
    from redis.typing import EncodableT, FieldT

    from app.tasks.rq_compat.record import JobRecord

CALLBACK_KINDS = ("success", "failure", "stopped")


def encode(job: JobRecord, include_meta: bool = True, include_result: bool = True) -> dict[FieldT, EncodableT]:
    """The hash fields, in RQ's names and formats (plus celery_task_id, which RQ ignores)."""
    obj: dict[FieldT, EncodableT] = {
        "created_at": utcformat(job.created_at or now()),
        "data": zlib.compress(job.data),
        "started_at": _fmt(job.started_at),
        "ended_at": _fmt(job.ended_at),
        "last_heartbeat": _fmt(job.last_heartbeat),
        "worker_name": job.worker_name or "",
        "group_id": job.group_id or "",
        "status": job._status.value,
    }
    for kind in CALLBACK_KINDS:
        obj[f"{kind}_callback_name"] = job._callback_names[kind] or ""
        timeout = job._callback_timeouts[kind]
        if timeout is not None:
            obj[f"{kind}_callback_timeout"] = timeout
    obj.update(_optional_fields(job, include_meta, include_result))
    return obj


def _optional_fields(job: JobRecord, include_meta: bool, include_result: bool) -> dict[FieldT, EncodableT]:
    """The fields RQ writes only when they have a value."""
    fields: dict[FieldT, EncodableT | None] = {
        "number_of_retries": job.number_of_retries,
        "retries_left": job.retries_left,
        "retry_intervals": json.dumps(job.retry_intervals) if job.retry_intervals is not None else None,
        "enqueue_at_front_on_retry": 1 if job.enqueue_at_front_on_retry else None,
        "origin": job.origin or None,
        "description": job.description,
        "enqueued_at": _fmt(job.enqueued_at) or None,
        "timeout": job.timeout,
        "result_ttl": job.result_ttl,
        "failure_ttl": job.failure_ttl,
        "ttl": job.ttl or None,
        "allow_dependency_failures": _int(job.allow_dependency_failures),
        "enqueue_at_front": _int(job.enqueue_at_front),
        "celery_task_id": job.celery_task_id,
        "serializer": serializer_path(job.serializer) or None,
    }
    if job._dependency_ids:
        fields["dependency_id"] = job._dependency_ids[0]
        fields["dependency_ids"] = json.dumps(job._dependency_ids)
    if job.meta and include_meta:
        fields["meta"] = job.serializer.dumps(job.meta)
    if job._exc_info is not None and include_result:
        fields["exc_info"] = zlib.compress(str(job._exc_info).encode("utf-8"))
    return {key: value for key, value in fields.items() if value is not None}


def decode(job: JobRecord, raw: Mapping[Any, Any]) -> None:
    """Fill the job's fields from a raw Redis hash."""
    obj = decode_hash(raw)
    if "data" not in obj:
        raise NoSuchJobError(f"Unexpected job format: {obj}")
    if obj.get("serializer") and not job._serializer_given:
        job.serializer = resolve_serializer(as_text(obj["serializer"]))
    try:
        job.data = zlib.decompress(obj["data"])
    except zlib.error:
        job.data = obj["data"]
    _decode_times(job, obj)
    _decode_settings(job, obj)
    _decode_callbacks(job, obj)


def _decode_times(job: JobRecord, obj: dict[str, bytes]) -> None:
    """Timestamps and the identity fields."""
    job.created_at = utcparse(obj["created_at"]) if obj.get("created_at") else now()
    job.enqueued_at, job.started_at = _date(obj.get("enqueued_at")), _date(obj.get("started_at"))
    job.ended_at, job.last_heartbeat = _date(obj.get("ended_at")), _date(obj.get("last_heartbeat"))
    job.origin = _text(obj.get("origin")) or ""
    job.worker_name = _text(obj.get("worker_name"))
    job.description = _text(obj.get("description"))
    job.group_id = _text(obj.get("group_id"))
    job.celery_task_id = _text(obj.get("celery_task_id"))
    job._status = JobStatus(as_text(obj["status"])) if obj.get("status") else JobStatus.CREATED


def _decode_settings(job: JobRecord, obj: dict[str, bytes]) -> None:
    """TTLs, retries, dependencies, meta and the stored exception text."""
    job.timeout = parse_timeout(obj["timeout"]) if obj.get("timeout") else None
    job.result_ttl, job.failure_ttl = _number(obj.get("result_ttl")), _number(obj.get("failure_ttl"))
    job.ttl = _number(obj.get("ttl"))
    job.retries_left, job.number_of_retries = _number(obj.get("retries_left")), _number(obj.get("number_of_retries"))
    job.retry_intervals = json.loads(obj["retry_intervals"]) if obj.get("retry_intervals") else None
    job.enqueue_at_front_on_retry = bool(_number(obj.get("enqueue_at_front_on_retry")))
    ids, single = obj.get("dependency_ids"), obj.get("dependency_id")
    job._dependency_ids = json.loads(ids) if ids else ([as_text(single)] if single else [])
    allow = obj.get("allow_dependency_failures")
    job.allow_dependency_failures = bool(int(allow)) if allow else None
    job.enqueue_at_front = bool(int(obj["enqueue_at_front"])) if "enqueue_at_front" in obj else None
    try:
        job.meta = job.serializer.loads(obj["meta"]) if obj.get("meta") else {}
    except Exception:
        job.meta = {"unserialized": obj.get("meta", {})}
    raw_exc = obj.get("exc_info")
    job._exc_info = _unzip_text(raw_exc) if raw_exc else None


def _decode_callbacks(job: JobRecord, obj: dict[str, bytes]) -> None:
    """Callback names and timeouts."""
    for kind in CALLBACK_KINDS:
        job._callback_names[kind] = _text(obj.get(f"{kind}_callback_name"))
        if f"{kind}_callback_timeout" in obj:
            job._callback_timeouts[kind] = int(obj[f"{kind}_callback_timeout"])


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
