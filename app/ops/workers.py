"""What the workers and queues are doing, read from Celery's control channel and the broker."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from celery import Celery

from app.extensions import db
from app.models import Provider


def worker_overview(celery: Celery, timeout: float) -> list[dict[str, Any]]:
    """One dict per live worker: name, pool, concurrency, queues, running tasks, tasks done."""
    inspect = celery.control.inspect(timeout=timeout)
    stats = inspect.stats() or {}
    queues = inspect.active_queues() or {}
    active = inspect.active() or {}
    return [
        {
            "name": name,
            "pool": info.get("pool", {}).get("implementation", "").split(":")[0].rsplit(".", 1)[-1],
            "concurrency": info.get("pool", {}).get("max-concurrency"),
            "queues": sorted(q["name"] for q in queues.get(name, [])),
            "active": [task.get("name") for task in active.get(name, [])],
            "processed": sum((info.get("total") or {}).values()),
            "pid": info.get("pid"),
        }
        for name, info in sorted(stats.items())
    ]


def queue_names(celery: Celery) -> list[str]:
    """The configured queues plus every hypervisor's own queue."""
    names = {q.name for q in celery.conf.task_queues or ()}
    names |= {q for q in db.session.scalars(sa.select(Provider.queue).where(Provider.queue.is_not(None)))}
    return sorted(names)


def queue_lengths(celery: Celery, names: list[str]) -> dict[str, int | None]:
    """Messages waiting in each queue, every priority level counted (None when the broker cannot say)."""
    lengths: dict[str, int | None] = {}
    with celery.connection_for_read() as conn:
        channel = conn.default_channel
        for name in names:
            try:
                # kombu's Redis transport keeps one list per priority step (RQ jobs use step 3)
                lengths[name] = sum(
                    channel.client.llen(channel._q_for_pri(name, pri)) for pri in channel.priority_steps
                )
            except Exception:  # a non-Redis broker, or the broker went away mid-way
                lengths[name] = None
    return lengths


def queue_rows(nodes: list[dict[str, Any]], lengths: dict[str, int | None]) -> list[dict[str, Any]]:
    """Each queue with its length and the workers that consume it."""
    return [
        {"name": name, "length": length, "consumers": [n["name"] for n in nodes if name in n["queues"]]}
        for name, length in lengths.items()
    ]
