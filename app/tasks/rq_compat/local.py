"""The job being performed in this thread, for get_current_job()."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.tasks.rq_compat.job import Job

_state = threading.local()


def _stack() -> list[Job]:
    """This thread's stack of running jobs."""
    if not hasattr(_state, "jobs"):
        _state.jobs = []
    jobs: list[Job] = _state.jobs
    return jobs


def push(job: Job) -> None:
    """A job starts running here."""
    _stack().append(job)


def pop() -> Job:
    """The running job is done."""
    return _stack().pop()


def top() -> Job | None:
    """The job running here, or None."""
    stack = _stack()
    return stack[-1] if stack else None
