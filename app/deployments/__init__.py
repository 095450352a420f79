"""The playbook catalogue and the run form."""

from flask import Blueprint

bp = Blueprint("deployments", __name__)

from app.deployments import routes  # noqa: E402,F401
