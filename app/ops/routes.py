"""Dashboard, audit log and /healthz."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app, jsonify, render_template, request
from flask_login import login_required
from werkzeug.wrappers import Response

from app.extensions import db
from app.models import AuditEvent
from app.ops import bp
from app.ops.health import health
from app.security import role_required


@bp.get("/")
@login_required
def dashboard() -> str:
    """The landing page."""
    return render_template("ops/dashboard.html")


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """JSON health of database, broker and workers: 200 when all are fine, else 503."""
    result = health(current_app.extensions["celery"], current_app.config["HEALTH_TIMEOUT"])
    return jsonify(result), 200 if result["ok"] else 503


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
    page = db.paginate(query, per_page=current_app.config["PER_PAGE"], error_out=False)
    bad_since = bool(filters["since"]) and since is None
    return render_template("ops/audit.html", page=page, filters=filters, bad_since=bad_since)


def _parse_date(text: str) -> datetime | None:
    """A YYYY-MM-DD date, or None when empty or malformed."""
    try:
        return datetime.strptime(text, "%Y-%m-%d") if text else None
    except ValueError:
        return None
