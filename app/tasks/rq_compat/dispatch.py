"""Publishing a job as a Celery message: named after the job's function, on the job's queue, with its limits."""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any
from uuid import uuid4

from celery import Celery
from celery.utils.saferepr import saferepr

# Kombu's Redis transport pops priority 0 first. RQ jobs go out at step 3 so that at_front=True (step 0) can
# overtake them; the project's own tasks carry no priority, which kombu treats as 0.
NORMAL_PRIORITY = 3
FRONT_PRIORITY = 0
# Seconds between the soft limit (JobTimeoutException in the job) and the hard kill, on top of the callbacks'
# own timeouts: enough for the failure bookkeeping to finish before the child is killed.
HARD_LIMIT_GRACE = 2
TASK_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")
FALLBACK_TASK_NAME = "app.tasks.rq_compat.job"


def celery_app() -> Celery:
    """The current Flask app's Celery; outside one, a Celery configured from celeryconfig and REDIS_URL."""
    from flask import current_app, has_app_context

    from app.config import redis_url

    if has_app_context() and "celery" in current_app.extensions:
        return current_app.extensions["celery"]
    return _standalone_app(redis_url())


@functools.cache
def _standalone_app(broker_url: str) -> Celery:
    """A publisher for code that runs outside the Flask app (scripts, shells): same settings, same broker."""
    standalone = Celery("rq_compat", set_as_current=False)
    standalone.config_from_object("celeryconfig")
    standalone.conf.update(broker_url=broker_url, result_backend=broker_url)
    return standalone


def is_job_task_name(name: str) -> bool:
    """Names the worker resolves to the RQ job runner: dotted paths outside Celery's and the project's tasks."""
    # Leaving app.tasks.* out keeps a mistyped project task reported as unregistered instead of run as a job.
    return bool(TASK_NAME.fullmatch(name)) and not name.startswith(("celery.", "app.tasks."))


def task_name(job: Any) -> str:
    """The Celery task name Flower shows: the function's dotted path (methods get their class in it)."""
    name = job.func_name
    if job.instance is not None:
        owner = type(job.instance)
        name = f"{owner.__module__}.{owner.__qualname__}.{name}"
    return name if is_job_task_name(name) else FALLBACK_TASK_NAME


def new_dispatch_id(job: Any) -> str:
    """The Celery task id of the next message for `job`: the job id first, then a fresh one per retry/requeue."""
    # A fresh id each time matters: a worker discards every later message with a task id it was told to revoke.
    return job.id if job.celery_task_id is None else f"{job.id}-{uuid4().hex[:12]}"


def time_limits(job: Any, conf: Any) -> tuple[float | None, float | None]:
    """(soft, hard) seconds: soft is the job_timeout; past the project's Celery limits (or -1), those limits."""
    ceiling_soft, ceiling_hard = conf.task_soft_time_limit, conf.task_time_limit
    wanted = job.timeout if job.timeout and job.timeout > 0 else None
    if wanted is None or (ceiling_soft is not None and wanted >= ceiling_soft):
        return ceiling_soft, ceiling_hard
    callbacks = [job.callback_timeout(kind) for kind in ("success", "failure") if job._callback_names[kind]]
    hard = wanted + HARD_LIMIT_GRACE + max(callbacks, default=0)
    return wanted, hard if ceiling_hard is None else min(hard, ceiling_hard)


def publish(job: Any, eta: datetime | None = None, at_front: bool = False) -> None:
    """Send the message that will run `job` (its record must already be committed)."""
    app = celery_app()
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
        self.items: list[tuple[Any, datetime | None, bool]] = []

    @classmethod
    def of(cls, pipeline: Any) -> Outbox:
        """The outbox riding on `pipeline`: its execute() sends the messages after a successful commit."""
        outbox = getattr(pipeline, "_rq_compat_outbox", None)
        if outbox is None:
            outbox = cls()
            pipeline._rq_compat_outbox = outbox
            pipeline.execute = functools.partial(outbox._execute_then_send, pipeline.execute)
        return outbox

    def add(self, job: Any, eta: datetime | None = None, at_front: bool = False) -> None:
        """Send `job` after the commit."""
        self.items.append((job, eta, at_front))

    def _execute_then_send(self, execute: Any, *args: Any, **kwargs: Any) -> Any:
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
