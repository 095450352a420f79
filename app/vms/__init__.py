"""Virtual machines: list, create, actions, providers."""

from flask import Blueprint

bp = Blueprint("vms", __name__)

from app.vms import routes  # noqa: E402,F401
