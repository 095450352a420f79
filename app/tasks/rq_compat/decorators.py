"""RQ's @job decorator: `f.delay(...)` enqueues `f` on the given queue."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any

from app.tasks.rq_compat.enqueueing import DEFAULT_RESULT_TTL
from app.tasks.rq_compat.job import Job
from app.tasks.rq_compat.queue import Queue

if TYPE_CHECKING:
    from redis import Redis

    from app.tasks.rq_compat.options import Retry
    from app.tasks.rq_compat.record import CallbackSpec, DependsOn


class job:  # noqa: N801 (RQ's name)
    """Give the decorated function a `delay(*args, **kwargs)` that enqueues it, with these job settings."""

    queue_class = Queue

    def __init__(
        self,
        queue: Queue | str,
        connection: Redis,
        timeout: int | None = None,
        result_ttl: int = DEFAULT_RESULT_TTL,
        ttl: int | None = None,
        queue_class: type[Queue] | None = None,
        depends_on: DependsOn | None = None,
        at_front: bool = False,
        meta: dict[str, Any] | None = None,
        description: str | None = None,
        failure_ttl: int | None = None,
        retry: Retry | None = None,
        on_failure: CallbackSpec | None = None,
        on_success: CallbackSpec | None = None,
        on_stopped: CallbackSpec | None = None,
        webhooks: object = None,
    ) -> None:
        self.queue, self.connection, self.queue_class = queue, connection, queue_class or Queue
        self.settings: dict[str, Any] = {
            "timeout": timeout,
            "result_ttl": result_ttl,
            "ttl": ttl,
            "meta": meta,
            "description": description,
            "failure_ttl": failure_ttl,
            "retry": retry,
            "on_success": on_success,
            "on_failure": on_failure,
            "on_stopped": on_stopped,
            "webhooks": webhooks,
        }
        self.depends_on, self.at_front = depends_on, at_front

    def __call__(self, f: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(f)
        def delay(*args: Any, **kwargs: Any) -> Job:
            queue = (
                self.queue
                if isinstance(self.queue, Queue)
                else self.queue_class(name=self.queue, connection=self.connection)
            )
            depends_on = kwargs.pop("depends_on", None) or self.depends_on
            job_id, at_front = kwargs.pop("job_id", None), kwargs.pop("at_front", False) or self.at_front
            return queue.enqueue_call(
                f, args=args, kwargs=kwargs, depends_on=depends_on, job_id=job_id, at_front=at_front, **self.settings
            )

        f.delay = delay  # type: ignore[attr-defined]
        return f
