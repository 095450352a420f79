"""Numbers for the dashboard's workers/queues page and for `flask rq info`."""

from __future__ import annotations

from typing import Any

COUNTS = ("queued", "started", "finished", "failed", "deferred", "scheduled", "canceled")


def queue_counts(queue: Any, cleanup: bool = True) -> dict[str, Any]:
    """One queue's counts, as `rq info` computes them (with cleanup: expired registry entries dropped first,
    which can fail abandoned jobs and run their callbacks; a read-only page passes cleanup=False)."""
    registries = {
        "started": queue.started_job_registry,
        "finished": queue.finished_job_registry,
        "failed": queue.failed_job_registry,
        "deferred": queue.deferred_job_registry,
        "scheduled": queue.scheduled_job_registry,
        "canceled": queue.canceled_job_registry,
    }
    counts = {name: registry.get_job_count(cleanup=cleanup) for name, registry in registries.items()}
    return {"name": queue.name, "queued": queue.count, **counts}


def queue_overview(connection: Any, cleanup: bool = True) -> list[dict[str, Any]]:
    """Every RQ queue in this Redis, by name: name, queued, started, finished, failed, deferred, scheduled, canceled."""
    from app.tasks.rq_compat.queue import Queue

    return [queue_counts(queue, cleanup) for queue in sorted(Queue.all(connection=connection))]
