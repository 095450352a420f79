"""Health checks for the database, the broker and the workers."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from celery import Celery

from app.extensions import db


def check_database() -> dict[str, Any]:
    """Run SELECT 1 on the database."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        return {"ok": True, "backend": db.engine.dialect.name}
    except Exception as exc:  # any driver error means "down"; report it, never raise
        db.session.rollback()
        return {"ok": False, "error": type(exc).__name__ + ": " + str(exc).splitlines()[0]}


def check_broker(celery: Celery, timeout: float) -> dict[str, Any]:
    """Open a connection to the broker once, with a short timeout."""
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
        return {"ok": True}
    except Exception as exc:  # kombu raises several types; all mean "unreachable"
        return {"ok": False, "error": type(exc).__name__ + ": " + str(exc)}


def check_workers(celery: Celery, timeout: float) -> dict[str, Any]:
    """Ping every worker through the broker; fine when at least one answers."""
    try:
        replies = celery.control.inspect(timeout=timeout).ping() or {}
    except Exception as exc:  # a dead broker surfaces here as a connection error
        return {"ok": False, "count": 0, "error": type(exc).__name__ + ": " + str(exc)}
    return {"ok": bool(replies), "count": len(replies), "names": sorted(replies)}


def health(celery: Celery, timeout: float) -> dict[str, Any]:
    """All checks; workers are only asked when the broker answers."""
    result: dict[str, Any] = {"database": check_database(), "broker": check_broker(celery, timeout)}
    if result["broker"]["ok"]:
        result["workers"] = check_workers(celery, timeout)
    else:
        result["workers"] = {"ok": False, "count": 0, "error": "broker unreachable"}
    result["ok"] = all(part["ok"] for part in result.values())
    return result
