"""Numbers for the dashboard's workers/queues page and for `flask rq info`."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from app.tasks.rq_compat.queue import Queue

if TYPE_CHECKING:
    from redis import Redis

COUNTS = ("queued", "started", "finished", "failed", "deferred", "scheduled", "canceled")


class QueueCounts(TypedDict):
    """One queue's row: its name, what waits in it, and each registry's size."""

    name: str
    queued: int
    started: int
    finished: int
    failed: int
    deferred: int
    scheduled: int
    canceled: int


def queue_counts(queue: Queue, cleanup: bool = True) -> QueueCounts:
    """One queue's counts, as `rq info` computes them (with cleanup: expired registry entries dropped first,
    which can fail abandoned jobs and run their callbacks; a read-only page passes cleanup=False)."""
    return QueueCounts(
        name=queue.name,
        queued=queue.count,
        started=queue.started_job_registry.get_job_count(cleanup=cleanup),
        finished=queue.finished_job_registry.get_job_count(cleanup=cleanup),
        failed=queue.failed_job_registry.get_job_count(cleanup=cleanup),
        deferred=queue.deferred_job_registry.get_job_count(cleanup=cleanup),
        scheduled=queue.scheduled_job_registry.get_job_count(cleanup=cleanup),
        canceled=queue.canceled_job_registry.get_job_count(cleanup=cleanup),
    )


def queue_overview(connection: Redis, cleanup: bool = True) -> list[QueueCounts]:
    """Every RQ queue in this Redis, by name: name, queued, started, finished, failed, deferred, scheduled, canceled."""
    return [queue_counts(queue, cleanup) for queue in sorted(Queue.all(connection=connection))]
