"""Dashboard, audit log, health and (later) workers and queues."""

from flask import Blueprint

bp = Blueprint("ops", __name__)

from app.ops import routes  # noqa: E402,F401
