"""Housekeeping tasks."""
from __future__ import annotations

import os
import socket

import sqlalchemy as sa
from celery import shared_task

from app.extensions import db
from app.models import User


@shared_task(name="app.tasks.ops.ping")
def ping() -> dict[str, object]:
    """Answer from inside a worker, proving it has an app context and reaches SQL."""
    users = db.session.scalar(sa.select(sa.func.count()).select_from(User))
    return {"host": socket.gethostname(), "pid": os.getpid(), "users": users}
