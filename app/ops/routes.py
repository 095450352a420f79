"""Dashboard, audit log and /healthz."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from flask import current_app, jsonify, render_template, request
from flask_login import login_required
from werkzeug.wrappers import Response

from app.jobcore.queries import active_jobs, recent_finished_jobs
from app.models import AuditEvent
from app.ops import bp
from app.ops.health import health
from app.ops.workers import queue_lengths, queue_names, queue_rows, worker_overview
from app.polling import page_or_fragment
from app.requests import paginate
from app.security import role_required


@bp.get("/")
@login_required
def dashboard() -> Response:
    """The landing page: what is running now, what ran last, and the quick actions."""
    active, recent = active_jobs(), recent_finished_jobs(limit=10)
    return page_or_fragment("ops/dashboard.html", "active", bool(active), active=active, recent=recent)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """JSON health of database, broker and workers: 200 when all are fine, else 503."""
    result = health(current_app.extensions["celery"], current_app.config["HEALTH_TIMEOUT"])
    return jsonify(result), 200 if result["ok"] else 503


@bp.get("/workers")
@login_required
def workers() -> str:
    """Workers (pool, queues, what they run now) and queue lengths; Flower has the full picture."""
    celery = current_app.extensions["celery"]
    timeout = current_app.config["HEALTH_TIMEOUT"]
    try:
        nodes, lengths, error = worker_overview(celery, timeout), queue_lengths(celery, queue_names(celery)), None
    except Exception as exc:  # broker down: say so on the page instead of failing it
        nodes, lengths, error = [], {}, f"The broker did not answer: {type(exc).__name__}: {exc}"
    return render_template(
        "ops/workers.html",
        nodes=nodes,
        queues=queue_rows(nodes, lengths),
        error=error,
        rq_queues=_rq_overview(),
    )


def _rq_overview() -> Sequence[Mapping[str, object]]:
    """The RQ-compatible API's queues, when any exist."""
    try:
        from redis import Redis

        from app.tasks.rq_compat import queue_overview
    except ImportError:
        return []
    try:
        # no registry cleanup from a page view: that could fail jobs and run their callbacks in the web process
        return queue_overview(Redis.from_url(current_app.config["RQ_REDIS_URL"], socket_timeout=2), cleanup=False)
    except Exception:  # the broker is down; the page already says so
        return []


@bp.get("/audit")
@role_required("admin")
def audit_log() -> str:
    """The audit log, newest first, filterable by actor, action, target and date."""
    filters = {k: request.args.get(k, "").strip() for k in ("actor", "action", "target", "since")}
    query = sa.select(AuditEvent).order_by(AuditEvent.id.desc())
    if filters["actor"]:
        query = query.where(AuditEvent.actor == filters["actor"].lower())
    if filters["action"]:
        query = query.where(AuditEvent.action.startswith(filters["action"]))
    if filters["target"]:
        query = query.where(AuditEvent.target.contains(filters["target"]))
    since = _parse_date(filters["since"])
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    page = paginate(query)
    bad_since = bool(filters["since"]) and since is None
    return render_template("ops/audit.html", page=page, filters=filters, bad_since=bad_since)


def _parse_date(text: str) -> datetime | None:
    """A YYYY-MM-DD date, or None when empty or malformed."""
    try:
        return datetime.strptime(text, "%Y-%m-%d") if text else None
    except ValueError:
        return None
