"""Role checks and safe redirects, used by every blueprint."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import abort, request, url_for
from flask_login import current_user, login_required

from app.extensions import db, login
from app.models import User
from app.models.audit import Actor

login.login_view = "auth.login"
login.login_message = "Please log in to see that page."
login.login_message_category = "info"


@login.user_loader
def load_user(user_id: str) -> User | None:
    """Flask-Login's loader: the user row for the id in the session."""
    return db.session.get(User, int(user_id))


def current_actor() -> Actor:
    """Who is making this request ('anonymous' before login), and from which address."""
    if current_user.is_authenticated:
        return Actor(current_user.username, current_user.id, request.remote_addr)
    return Actor("anonymous", None, request.remote_addr)


def role_required(role: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a logged-in user whose role is at least `role` (403 otherwise)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.has_role(role):
                abort(403, description=f"This needs the {role} role.")
            return view(*args, **kwargs)

        wrapped.required_role = role  # type: ignore[attr-defined]  # lets a test list every route's role
        return wrapped

    return decorator


def safe_next(target: str | None) -> str:
    """Return `target` if it is a local path, else the dashboard (no open redirects)."""
    if not target:
        return url_for("ops.dashboard")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("ops.dashboard")
    return target
