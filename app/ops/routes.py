"""Dashboard, audit log and /healthz."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app, jsonify, make_response, render_template, request
from flask_login import login_required
from jinja2_fragments.flask import render_block
from werkzeug.wrappers import Response

from app.extensions import db, htmx
from app.models import AuditEvent, Job
from app.models.job import ACTIVE, TERMINAL
from app.ops import bp
from app.ops.health import health
from app.security import role_required


@bp.get("/")
@login_required
def dashboard() -> Response:
    """The landing page: what is running now, what ran last, and the quick actions."""
    active = db.session.scalars(sa.select(Job).where(Job.status.in_(ACTIVE)).order_by(Job.id.desc())).all()
    recent = db.session.scalars(sa.select(Job).where(Job.status.in_(TERMINAL))
                                .order_by(Job.id.desc()).limit(10)).all()
    if htmx and request.args.get("fragment") == "active":
        resp = make_response(render_block("ops/dashboard.html", "active", active=active))
        resp.status_code = 200 if active else 286
    else:
        resp = make_response(render_template("ops/dashboard.html", active=active, recent=recent))
    resp.vary.add("HX-Request")
    return resp


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
