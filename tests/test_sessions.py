"""Sessions end everywhere when they must (logout, new password, new role, disabled), expire, and rotate CSRF."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from itsdangerous.timed import TimestampSigner

import app.models.user as user_model
from app.extensions import db
from app.models import User
from app.timeutil import utcnow
from tests.conftest import PASSWORD, Auth

NEW_PASSWORD = "a brand new passphrase"


def logged_in(app, username: str, remember: bool = True):
    """A browser that logged in (with "keep me logged in" unless told otherwise)."""
    client = app.test_client()
    token = Auth(client).csrf("/login")
    data = {"username": username, "password": PASSWORD, "csrf_token": token}
    resp = client.post("/login", data={**data, "remember": "y"} if remember else data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client


def copy_of(app, client, cookie: str):
    """Another browser holding only a copy of one cookie (the session, or the remember-me token)."""
    value = client.get_cookie(cookie)
    assert value is not None, f"no {cookie} cookie"
    thief = app.test_client()
    thief.set_cookie(cookie, value.value)
    return thief


def in_(client) -> bool:
    """True when this browser gets the dashboard, False when it is sent to the login page."""
    status = client.get("/").status_code
    assert status in (200, 302)
    return status == 200


def log_out(app, victim, admin, users):
    victim.post("/logout", data={"csrf_token": Auth(victim).csrf("/")})


def change_password_on_the_page(app, victim, admin, users):
    admin.post(f"/users/{users['operator']}", {"role": "operator", "active": "y", "password": NEW_PASSWORD})


def change_password_from_the_cli(app, victim, admin, users):
    result = app.test_cli_runner().invoke(args=["users", "set-password", "oper", "--password", NEW_PASSWORD])
    assert result.exit_code == 0, result.output


def change_role(app, victim, admin, users):
    admin.post(f"/users/{users['operator']}", {"role": "viewer", "active": "y"})


def disable(app, victim, admin, users):
    admin.post(f"/users/{users['operator']}", {"role": "operator"})


@pytest.mark.parametrize(
    "end", [log_out, change_password_on_the_page, change_password_from_the_cli, change_role, disable]
)
def test_it_ends_every_session_and_remember_cookie_of_that_user_only(app, users, end):
    victim, bystander = logged_in(app, "oper"), logged_in(app, "viewer")
    copies = [copy_of(app, victim, "session"), copy_of(app, victim, "remember_token")]
    admin = Auth(app.test_client())
    admin.login("admin")
    assert all(in_(c) for c in [victim, *copies, bystander])
    token = _token(app, users["operator"])
    end(app, victim, admin, users)
    assert _token(app, users["operator"]) != token
    assert not any(in_(c) for c in [victim, *copies])
    assert in_(bystander) and in_(admin.client)


def _token(app, user_id: int) -> str:
    """The user's current session token."""
    with app.app_context():
        return db.session.get(User, user_id).session_token


def test_it_keeps_a_session_alive_while_used_and_expires_it_when_idle(app, users, monkeypatch):
    browser = logged_in(app, "viewer", remember=False)
    idle = app.config["SESSION_IDLE_MINUTES"]
    for minutes_later in (idle - 1, 2 * idle - 2):  # each request re-signs the cookie: the idle clock restarts
        _cookies_signed_at(monkeypatch, minutes_later)
        assert in_(browser)
    _cookies_signed_at(monkeypatch, 3 * idle)
    assert not in_(browser)


def test_keep_me_logged_in_outlasts_idle_expiry_but_not_the_absolute_lifetime(app, users, monkeypatch):
    browser = logged_in(app, "viewer")
    _cookies_signed_at(monkeypatch, app.config["SESSION_IDLE_MINUTES"] + 1)
    resp = browser.get("/")  # the session cookie expired; the remember-me cookie starts a new one
    assert resp.status_code == 200
    session_cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "Expires=" in session_cookie  # the new session has an idle limit too
    most = timedelta(hours=app.config["SESSION_MAX_HOURS"])
    _clock_at(monkeypatch, most - timedelta(minutes=1))
    assert in_(browser)
    _clock_at(monkeypatch, most + timedelta(minutes=1))
    assert not in_(browser)
    assert not in_(copy_of(app, browser, "remember_token"))


def test_it_bounds_the_remember_me_cookie_by_the_absolute_lifetime(app, users):
    browser = logged_in(app, "viewer")
    cookie = browser.get_cookie("remember_token")
    assert cookie.expires is not None
    lifetime = cookie.expires - utcnow()
    assert timedelta(0) < lifetime <= timedelta(hours=app.config["SESSION_MAX_HOURS"])


def _cookies_signed_at(monkeypatch, minutes: float) -> None:
    """Move the session cookie's signing clock forward: itsdangerous then sees cookies as older."""
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time() + minutes * 60))


def _clock_at(monkeypatch, after: timedelta) -> None:
    """Move the clock the login age is measured by."""
    monkeypatch.setattr(user_model, "utcnow", lambda: utcnow() + after)


def test_it_gives_a_new_csrf_token_at_login_and_refuses_the_old_one(app, users, client):
    auth = Auth(client)
    before = auth.csrf("/login")
    with client.session_transaction() as session:
        raw_before = session["csrf_token"]
    auth.login("operator")
    after = auth.csrf("/")
    with client.session_transaction() as session:
        assert session["csrf_token"] != raw_before
    assert client.post("/logout", data={"csrf_token": before}).status_code == 400
    assert client.post("/logout", data={"csrf_token": after}).status_code == 302


def test_a_session_from_before_session_tokens_is_refused(app, users, client):
    with client.session_transaction() as session:
        session["_user_id"] = str(users["admin"])  # what sessions held before: the plain user id
    assert not in_(client)


def test_the_migration_gives_every_existing_user_a_token_of_their_own(app):
    from flask_migrate import downgrade, upgrade

    with app.app_context():
        db.session.remove()
        downgrade(revision="0005")
        try:
            for name in ("ann", "bob"):
                db.session.execute(
                    sa.text(
                        "INSERT INTO users (username, password_hash, role, active, created_at) "
                        "VALUES (:name, 'x', 'viewer', :yes, :now)"
                    ),
                    {"name": name, "yes": True, "now": utcnow()},
                )
            db.session.commit()
        finally:
            upgrade()
        tokens = db.session.scalars(sa.select(User.session_token)).all()
    assert len(tokens) == len(set(tokens)) == 2 and all(len(t) >= 40 for t in tokens)
