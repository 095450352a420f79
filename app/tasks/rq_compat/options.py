"""RQ's small value types: JobStatus, Retry, Callback (Dependency is in record.py: it names jobs)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any

from app.tasks.rq_compat.utils import parse_timeout, resolve_function_reference

CALLBACK_TIMEOUT = 60


class JobStatus(str, Enum):  # noqa: UP042 (as RQ defines it: str() gives 'JobStatus.X', like RQ)
    """The status of a job within its lifecycle, with RQ's values."""

    CREATED = "created"
    QUEUED = "queued"
    FINISHED = "finished"
    FAILED = "failed"
    STARTED = "started"
    DEFERRED = "deferred"
    SCHEDULED = "scheduled"
    STOPPED = "stopped"
    CANCELED = "canceled"
    RATE_LIMITED = "rate_limited"  # RQ 3.0; rate limits are refused here, so never written
    READY_TO_ENQUEUE = "ready_to_enqueue"  # RQ 3.0; dependents move straight from deferred to queued here


class Retry:
    """Retry a failing job up to `max` times, waiting `interval` seconds (or a list of them) in between."""

    def __init__(self, max: int, interval: int | Iterable[int] = 0, enqueue_at_front: bool = False) -> None:
        if max < 1:
            raise ValueError("max: please enter a value greater than 0")
        intervals = [interval] if isinstance(interval, int) else list(interval)
        if any(value < 0 for value in intervals):
            raise ValueError("interval: negative numbers are not allowed")
        self.max = max
        self.intervals = intervals
        self.enqueue_at_front = enqueue_at_front

    def __repr__(self) -> str:
        interval = self.intervals[0] if len(self.intervals) == 1 else self.intervals
        return f"Retry(max={self.max}, interval={interval!r}, enqueue_at_front={self.enqueue_at_front!r})"

    @classmethod
    def get_interval(cls, count: int, intervals: int | list[int] | None) -> int:
        """The interval for retry number `count` (the last one repeats)."""
        if isinstance(intervals, int):
            return intervals
        if not intervals:
            return 0
        return intervals[min(len(intervals) - 1, count)]


class Callback:
    """A success/failure/stopped callback: a function or its dotted path, with a timeout (default 60 s)."""

    def __init__(self, func: str | Callable[..., Any], timeout: int | str | None = None) -> None:
        if not isinstance(func, str) and not inspect.isfunction(func) and not inspect.isbuiltin(func):
            raise ValueError("Callback `func` must be a string or function")
        self.func = func
        self.timeout = parse_timeout(timeout) if timeout else CALLBACK_TIMEOUT

    @property
    def name(self) -> str:
        """The dotted path stored in the job record."""
        return self.func if isinstance(self.func, str) else resolve_function_reference(self.func)[1]
