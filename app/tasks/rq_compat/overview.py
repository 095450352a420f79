"""Numbers for the dashboard's workers/queues page and for `flask rq info`."""
from __future__ import annotations

from typing import Any

COUNTS = ("queued", "started", "finished", "failed", "deferred", "scheduled", "canceled")


def queue_counts(queue: Any) -> dict[str, Any]:
    """One queue's counts, as `rq info` computes them (registries cleaned of expired entries first)."""
    return {"name": queue.name, "queued": queue.count, "started": queue.started_job_registry.count,
            "finished": queue.finished_job_registry.count, "failed": queue.failed_job_registry.count,
            "deferred": queue.deferred_job_registry.count, "scheduled": queue.scheduled_job_registry.count,
            "canceled": queue.canceled_job_registry.count}


def queue_overview(connection: Any) -> list[dict[str, Any]]:
    """Every RQ queue in this Redis, by name: name, queued, started, finished, failed, deferred, scheduled, canceled."""
    from app.tasks.rq_compat.queue import Queue

    return [queue_counts(queue) for queue in sorted(Queue.all(connection=connection))]
