"""Job pages: history, the live job page, cancel, relaunch, retry failed hosts."""

from flask import Blueprint

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

from app.jobs import routes  # noqa: E402,F401
