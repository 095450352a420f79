"""Login, logout and user administration."""

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import routes, users  # noqa: E402,F401
