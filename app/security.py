"""Sessions, role checks and safe redirects, used by every blueprint."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user, user_loaded_from_cookie

from app.extensions import login
from app.models import User
from app.models.audit import Actor

login.login_view = "auth.login"
login.login_message = "Please log in to see that page."
login.login_message_category = "info"
# login_user() stores User.login_id() (session token + login time) in the session and the remember-me cookie.
login.id_attribute = "login_id"


@login.user_loader
def load_user(login_id: str) -> User | None:
    """Flask-Login's loader: the user whose session token the cookie holds, while the login is young enough."""
    return User.by_login_id(login_id, max_age=current_app.config["SESSION_MAX_HOURS"] * 3600)


@user_loaded_from_cookie.connect
def _session_from_cookie(app: Flask, user: User) -> None:
    """A session restored from the remember-me cookie expires when idle, like one started at the login form."""
    session.permanent = True


def start_session(user: User, remember: bool) -> None:
    """Log the user in on a fresh session: its idle clock runs, and the CSRF token is a new one."""
    session.clear()  # drops the anonymous CSRF token, so the next form gets a new one
    session.permanent = True
    login_user(user, remember=remember)


def end_session() -> None:
    """Log out here and end the user's other sessions and remember-me cookies (the caller commits)."""
    current_user.end_sessions()
    logout_user()
    session.pop("csrf_token", None)


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
