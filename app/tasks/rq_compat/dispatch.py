"""Publishing a job as a Celery message: named after the job's function, on the job's queue, with its limits."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from app.tasks.rq_compat import state
from app.tasks.rq_compat.celery_adapter import saferepr

if TYPE_CHECKING:
    from celery.utils.collections import ChainMap
    from redis.client import Pipeline

    from app.tasks.rq_compat.record import JobRecord

# Kombu's Redis transport pops priority 0 first. RQ jobs go out at step 3 so that at_front=True (step 0) can
# overtake them; the project's own tasks carry no priority, which kombu treats as 0.
NORMAL_PRIORITY = 3
FRONT_PRIORITY = 0
# Seconds between the soft limit (JobTimeoutException in the job) and the hard kill, on top of the callbacks'
# own timeouts: enough for the failure bookkeeping to finish before the child is killed.
HARD_LIMIT_GRACE = 2
TASK_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")
PACKAGE = __name__.rpartition(".")[0]  # this package's dotted name, wherever it lives
# The project's own tasks sit next to this package (app.tasks.*): found from where we are, not imported.
PROJECT_TASKS = PACKAGE.rpartition(".")[0] + "."
FALLBACK_TASK_NAME = f"{PACKAGE}.job"


def is_job_task_name(name: str) -> bool:
    """Names the worker resolves to the RQ job runner: dotted paths outside Celery's and the project's tasks."""
    # Leaving the project's tasks out keeps a mistyped one reported as unregistered instead of run as a job.
    return bool(TASK_NAME.fullmatch(name)) and not name.startswith(("celery.", PROJECT_TASKS))


def task_name(job: JobRecord) -> str:
    """The Celery task name Flower shows: the function's dotted path (methods get their class in it)."""
    name = job.func_name or ""
    if job.instance is not None:
        owner = type(job.instance)
        name = f"{owner.__module__}.{owner.__qualname__}.{name}"
    return name if is_job_task_name(name) else FALLBACK_TASK_NAME


def new_dispatch_id(job: JobRecord) -> str:
    """The Celery task id of the next message for `job`: the job id first, then a fresh one per retry/requeue."""
    # A fresh id each time matters: a worker discards every later message with a task id it was told to revoke.
    return job.id if job.celery_task_id is None else f"{job.id}-{uuid4().hex[:12]}"


def time_limits(job: JobRecord, conf: ChainMap) -> tuple[float | None, float | None]:
    """(soft, hard) seconds: soft is the job_timeout; past the project's Celery limits (or -1), those limits."""
    ceiling_soft, ceiling_hard = conf.task_soft_time_limit, conf.task_time_limit
    wanted = job.timeout if job.timeout and job.timeout > 0 else None
    if wanted is None or (ceiling_soft is not None and wanted >= ceiling_soft):
        return ceiling_soft, ceiling_hard
    callbacks = [job.callback_timeout(kind) for kind in ("success", "failure") if job._callback_names[kind]]
    hard = wanted + HARD_LIMIT_GRACE + max(callbacks, default=0)
    return wanted, hard if ceiling_hard is None else min(hard, ceiling_hard)


def publish(job: JobRecord, eta: datetime | None = None, at_front: bool = False) -> None:
    """Send the message that will run `job` (its record must already be committed)."""
    app = state.publisher(job.connection)
    soft, hard = time_limits(job, app.conf)
    app.send_task(
        task_name(job),
        args=[job.id],
        task_id=job.celery_task_id,
        queue=job.origin,
        eta=eta,
        soft_time_limit=soft,
        time_limit=hard,
        priority=FRONT_PRIORITY if at_front else NORMAL_PRIORITY,
        argsrepr=saferepr(tuple(job.args), 1024),
        kwargsrepr=saferepr(job.kwargs, 1024),
        ignore_result=True,
    )


class Outbox:
    """Messages to send once the Redis transaction holding their job records has committed."""

    def __init__(self) -> None:
        self.items: list[tuple[JobRecord, datetime | None, bool]] = []

    @classmethod
    def of(cls, pipeline: Pipeline) -> Outbox:
        """The outbox riding on `pipeline`: its execute() sends the messages after a successful commit."""
        outbox = getattr(pipeline, "_rq_compat_outbox", None)
        if outbox is None:
            outbox = cls()
            pipeline._rq_compat_outbox = outbox  # type: ignore[attr-defined]
            pipeline.execute = functools.partial(outbox._execute_then_send, pipeline.execute)  # type: ignore[method-assign]
        return outbox

    def add(self, job: JobRecord, eta: datetime | None = None, at_front: bool = False) -> None:
        """Send `job` after the commit."""
        self.items.append((job, eta, at_front))

    def _execute_then_send(self, execute: Callable[..., list[Any]], *args: Any, **kwargs: Any) -> list[Any]:
        """Commit; on success send (a WatchError retry starts with an empty outbox)."""
        try:
            result = execute(*args, **kwargs)
        except BaseException:
            self.items.clear()
            raise
        items, self.items = self.items, []
        for job, eta, at_front in items:
            publish(job, eta=eta, at_front=at_front)
        return result
