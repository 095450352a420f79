"""Admins manage users in the UI and from the `flask users` CLI; everything is audited."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, User


def last_audit(app) -> AuditEvent:
    """The newest audit row."""
    with app.app_context():
        return db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))


def test_it_lets_an_admin_create_a_user_and_audits_it(app, client, auth):
    auth.login("admin")
    resp = auth.post("/users", {"username": "Dana", "role": "operator", "password": "long enough pw"})
    assert resp.status_code == 302
    with app.app_context():
        dana = User.by_username("dana")
        assert dana.role == "operator" and dana.check_password("long enough pw")
    event = last_audit(app)
    assert (event.action, event.target, event.actor, event.detail) == (
        "user.create",
        "dana",
        "admin",
        {"role": "operator"},
    )
    assert event.address == "127.0.0.1"


def test_it_shows_form_errors_instead_of_failing(app, client, auth):
    auth.login("admin")
    resp = auth.post("/users", {"username": "oper", "role": "viewer", "password": "short"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    # the fields are validated first: the short password is reported, and the name is only looked up
    # once the form is valid, so "taken" does not show up yet
    assert "The password must be at least 12 characters long." in page
    assert "That username is taken." not in page
    with app.app_context():
        assert User.by_username("oper").role == "operator"  # the existing user was left alone
    resp = auth.post("/users", {"username": "oper", "role": "viewer", "password": "long enough pw"})
    assert resp.status_code == 400 and "That username is taken." in resp.get_data(as_text=True)
    resp = auth.post("/users", {"username": "x y", "role": "root", "password": "long enough pw"})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Not a valid choice" in page and "lowercase letters" in page


def test_it_changes_role_and_password_with_a_reason(app, client, auth, users):
    auth.login("admin")
    resp = auth.post(
        f"/users/{users['viewer']}",
        {"role": "operator", "active": "y", "password": "brand new password", "reason": "on-call"},
    )
    assert resp.status_code == 302
    with app.app_context():
        user = db.session.get(User, users["viewer"])
        assert user.role == "operator" and user.check_password("brand new password")
    event = last_audit(app)
    assert event.action == "user.update" and event.reason == "on-call"
    assert event.detail == {"role": "operator", "password": "changed"}


def test_it_refuses_to_let_an_admin_demote_themselves(app, client, auth, users):
    auth.login("admin")
    resp = auth.post(f"/users/{users['admin']}", {"role": "viewer", "active": "y"})
    assert resp.status_code == 400
    assert "You cannot remove your own admin role" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, users["admin"]).role == "admin"


def test_it_answers_404_in_the_layout_for_an_unknown_user(client, auth):
    auth.login("admin")
    resp = client.get("/users/999999")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 404 and "No such user." in page and "Log out admin" in page


def test_it_filters_the_audit_log(client, auth):
    auth.login("admin")
    auth.post("/users", {"username": "erin", "role": "viewer", "password": "long enough pw"})
    page = client.get("/audit?action=user.").get_data(as_text=True)
    assert "user.create" in page and "auth.login" not in page
    page = client.get("/audit?actor=oper").get_data(as_text=True)
    assert "Nothing matches." in page
    resp = client.get("/audit?since=yesterday")
    assert resp.status_code == 200 and "is not a date" in resp.get_data(as_text=True)


def test_the_cli_creates_lists_and_resets_users(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "frank", "--role", "operator", "--generate"])
    assert result.exit_code == 0 and "created frank (operator); password: " in result.output
    password = result.output.rsplit(": ", 1)[1].strip()
    with app.app_context():
        assert User.by_username("frank").check_password(password)
    result = runner.invoke(args=["users", "create", "frank"])
    assert result.exit_code != 0 and "frank: That username is taken." in result.output
    result = runner.invoke(args=["users", "set-password", "frank", "--password", "short"])
    assert result.exit_code != 0 and "at least 12 characters" in result.output
    result = runner.invoke(args=["users", "set-password", "frank", "--password", "a fine new password"])
    assert result.exit_code == 0
    assert "frank                    operator" in runner.invoke(args=["users", "list"]).output
    assert last_audit(app).actor == "cli"


def test_bootstrap_creates_the_first_admin_only_once(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["users", "bootstrap"])
    assert "created user 'admin' with password: " in first.output
    password = first.output.split("password: ")[1].split()[0]
    with app.app_context():
        assert User.by_username("admin").check_password(password)
    assert runner.invoke(args=["users", "bootstrap"]).output == ""


def test_it_refuses_common_passwords_and_says_why(app, client, auth, users):
    auth.login("admin")
    resp = auth.post("/users", {"username": "gina", "role": "viewer", "password": "Qwerty123456"})
    assert resp.status_code == 400 and "on the list of common passwords" in resp.get_data(as_text=True)
    resp = auth.post(f"/users/{users['viewer']}", {"role": "viewer", "active": "y", "password": "password1234"})
    assert resp.status_code == 400 and "on the list of common passwords" in resp.get_data(as_text=True)
    resp = auth.post(f"/users/{users['viewer']}", {"role": "viewer", "active": "y", "password": "too short"})
    assert resp.status_code == 400 and "at least 12 characters" in resp.get_data(as_text=True)
    with app.app_context():
        assert User.by_username("gina") is None
        assert db.session.get(User, users["viewer"]).check_password("correct horse battery")


def test_the_cli_refuses_common_and_short_passwords_and_says_why(app, users):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "set-password", "oper", "--password", "qwerty123456"])
    assert result.exit_code != 0 and "oper: That password is on the list of common passwords" in result.output
    result = runner.invoke(args=["users", "create", "hal", "--password", "eleven char"])
    assert result.exit_code != 0 and "hal: The password must be at least 12 characters long." in result.output
    with app.app_context():
        assert User.by_username("oper").check_password("correct horse battery")
        assert User.by_username("hal") is None
