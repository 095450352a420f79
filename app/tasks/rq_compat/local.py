"""The job being performed in this thread, for get_current_job()."""

from __future__ import annotations

import threading
from typing import Any

_state = threading.local()


def _stack() -> list[Any]:
    """This thread's stack of running jobs."""
    if not hasattr(_state, "jobs"):
        _state.jobs = []
    return _state.jobs


def push(job: Any) -> None:
    """A job starts running here."""
    _stack().append(job)


def pop() -> Any:
    """The running job is done."""
    return _stack().pop()


def top() -> Any:
    """The job running here, or None."""
    stack = _stack()
    return stack[-1] if stack else None
