"""Housekeeping tasks: ping, the reaper, and re-queueing waiting jobs."""

from __future__ import annotations

import os
import socket
from datetime import timedelta

import sqlalchemy as sa
from celery import shared_task
from flask import current_app

from app.extensions import db
from app.jobcore.submit import kick_waiting
from app.jobcore.transitions import mark_lost
from app.models import User


@shared_task(name="app.tasks.ops.ping")
def ping() -> dict[str, object]:
    """Answer from inside a worker, proving it has an app context and reaches SQL."""
    users = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    return {"host": socket.gethostname(), "pid": os.getpid(), "users": users}


@shared_task(name="app.tasks.ops.reap")
def reap(stale_after: int | None = None) -> dict[str, list[int] | int]:
    """Mark running jobs without a heartbeat as lost, free their locks, and retry waiting jobs."""
    seconds = stale_after if stale_after is not None else current_app.config["JOB_LOST_AFTER"]
    lost = mark_lost(timedelta(seconds=seconds))
    return {"lost": lost, "requeued": kick_waiting()}
