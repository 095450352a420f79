"""Dashboard, audit log, health, workers and queues, and Flower behind the admin role."""

from flask import Blueprint

bp = Blueprint("ops", __name__)

from app.ops import flower, routes  # noqa: E402,F401
