"""Login throttling per account and per address, counted in the broker's Redis (Flask-Limiter)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from flask import Response, current_app, make_response, render_template, request
from flask_limiter import RequestLimit, RouteLimit

from app.auth.forms import LoginForm, normalise_username
from app.extensions import db, limiter
from app.models.audit import audit
from app.security import current_actor


def account_key() -> str:
    """The throttled account: the username as typed, normalised like the login does."""
    return normalise_username(request.form.get("username")) or ""


def address_key() -> str:
    """The throttled address: the client's (after PROXY_HOPS trusted proxies)."""
    return request.remote_addr or ""


def failed(response: Response) -> bool:
    """Only failed logins count: a team behind one address may log in as often as it likes."""
    return response.status_code == 401


def throttled(by: str, key: Callable[[], str]) -> Callable[[RequestLimit], Response]:
    """The breach handler for one kind of key: audit once per window, answer 429 with Retry-After."""

    def on_breach(limit: RequestLimit) -> Response:
        retry_after = max(1, math.ceil(limit.window.reset_time - time.time()))
        if _first_breach_in_window(limit, retry_after):
            audit("auth.throttled", current_actor(), target=key(), by=by, limit=str(limit.limit))
            db.session.commit()
        return _too_many(retry_after)

    return on_breach


def _first_breach_in_window(limit: RequestLimit, retry_after: int) -> bool:
    """True for the first refused attempt of a window: a counter in the limiter's storage that ends with it."""
    return limit.limiter.storage.incr(f"throttled/{limit.key}", retry_after) == 1


def _too_many(retry_after: int) -> Response:
    """The login page with the reason, as a 429 with Retry-After."""
    notice = f"Too many failed logins. Try again in {retry_after} seconds."
    response = make_response(render_template("auth/login.html", form=LoginForm(), notice=notice), 429)
    response.headers["Retry-After"] = str(retry_after)
    return response


def _limit(setting: str, by: str, key: Callable[[], str]) -> RouteLimit:
    """A limit on failed login POSTs, its rate read from the settings at request time."""
    return limiter.limit(
        lambda: current_app.config[setting],
        key_func=key,
        methods=["POST"],
        deduct_when=failed,
        on_breach=throttled(by, key),
        scope=f"login-{by}",
    )


per_account = _limit("LOGIN_LIMIT_PER_ACCOUNT", "account", account_key)
per_address = _limit("LOGIN_LIMIT_PER_ADDRESS", "address", address_key)
