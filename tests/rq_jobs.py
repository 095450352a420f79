"""Functions the RQ conformance tests enqueue; the same code runs on a real RQ worker and on our Celery workers."""

from __future__ import annotations

import asyncio
import time
from typing import Any


def current_job() -> Any:
    """The running job, whichever implementation runs it."""
    from app.tasks.rq_compat import get_current_job

    job = get_current_job()
    if job is None:
        import rq

        job = rq.get_current_job()
    return job


def add(a: int, b: int) -> int:
    """Sum two numbers."""
    return a + b


def echo(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """Return what the function received."""
    return {"args": list(args), "kwargs": kwargs}


def fail(message: str = "boom") -> None:
    """Raise ValueError."""
    raise ValueError(message)


def sleep_then(seconds: float, value: Any = None) -> Any:
    """Sleep, then return value."""
    time.sleep(seconds)
    return value


def mark_started_then_sleep(seconds: float) -> str:
    """Say (in meta) that the job runs, then sleep in small steps (so a stop lands mid-sleep)."""
    job = current_job()
    job.meta["running"] = True
    job.save_meta()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return "slept"


def ignore_timeouts(seconds: float) -> str:
    """Swallow every exception (the soft time limit included) until `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(0.05)
        except BaseException:  # noqa: BLE001 (the point of this job)
            pass
    return "survived"


def record_meta(key: str, value: Any) -> str:
    """Write job.meta[key] from inside the job, then return the job's id."""
    job = current_job()
    job.meta[key] = value
    job.save_meta()
    return job.id


def describe_self() -> dict[str, Any]:
    """What the running job knows about itself."""
    job = current_job()
    return {"id": job.id, "origin": job.origin, "func_name": job.func_name, "worker_name": job.worker_name}


def flaky(counter_key: str, failures: int) -> int:
    """Fail the first `failures` calls (counted in Redis), then return the call number."""
    calls = current_job().connection.incr(counter_key)
    if calls <= failures:
        raise RuntimeError(f"failure {calls} of {failures}")
    return calls


def running_api() -> Any:
    """The API of the implementation running this job: ours, or RQ's."""
    import app.tasks.rq_compat as ours

    if ours.get_current_job() is not None:
        return ours
    import rq

    return rq


def retry_until(counter_key: str, succeed_on: int | None, max: int, interval: int = 0) -> Any:
    """Count the call in Redis; return Retry(max, interval) until call `succeed_on` (None: always), then the count."""
    calls = current_job().connection.incr(counter_key)
    if succeed_on is not None and calls >= succeed_on:
        return calls
    return running_api().Retry(max=max, interval=interval)


def append(list_key: str, tag: str) -> str:
    """Append tag to a Redis list (to see the order jobs ran in)."""
    current_job().connection.rpush(list_key, tag)
    return tag


async def async_add(a: int, b: int) -> int:
    """A coroutine job."""
    await asyncio.sleep(0.01)
    return a + b


def on_success(job: Any, connection: Any, result: Any, *args: Any, **kwargs: Any) -> None:
    """Success callback: note the result."""
    connection.rpush(f"callbacks:{job.id}", f"success:{result!r}")


def on_failure(job: Any, connection: Any, type: Any, value: Any, traceback: Any) -> None:
    """Failure callback: note the exception type and message."""
    connection.rpush(f"callbacks:{job.id}", f"failure:{type.__name__}:{value}")


def on_stopped(job: Any, connection: Any) -> None:
    """Stopped callback."""
    connection.rpush(f"callbacks:{job.id}", "stopped")


def failing_callback(job: Any, connection: Any, result: Any, *args: Any, **kwargs: Any) -> None:
    """A success callback that raises (RQ then marks the job failed)."""
    raise RuntimeError("callback broke")


def die() -> None:
    """Kill the process running the job, as an out-of-memory kill would."""
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


class Greeter:
    """A job can be a bound method: the instance is pickled with the job."""

    def __init__(self, greeting: str) -> None:
        self.greeting = greeting

    def greet(self, name: str) -> str:
        """Greet someone."""
        return f"{self.greeting}, {name}"
