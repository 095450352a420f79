"""Logging in and out, CSRF, redirects and roles."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent


def audit_actions(app) -> list[str]:
    """Actions in the audit log, oldest first."""
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)))


@pytest.mark.parametrize("path", ["/", "/users", "/audit", "/users/1"])
def test_it_sends_anonymous_users_to_login(client, path):
    resp = client.get(path)
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login?next=")


def test_it_serves_login_and_healthz_without_login(client):
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)


def test_it_logs_in_and_out_and_audits_both(app, client, auth):
    resp = auth.login("operator")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Log out oper" in page and "Running now" in page
    resp = auth.post("/logout")
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    assert audit_actions(app) == ["auth.login", "auth.logout"]


def test_it_refuses_a_wrong_password_with_a_message(app, client, auth):
    resp = auth.login("admin", password="not the password")
    assert resp.status_code == 401
    assert "Wrong username or password." in resp.get_data(as_text=True)
    assert client.get("/").status_code == 302
    assert audit_actions(app) == ["auth.login_failed"]


def test_it_rejects_a_post_without_csrf(client, auth):
    resp = client.post("/login", data={"username": "admin", "password": "correct horse battery"})
    assert resp.status_code == 400
    assert "The form expired or was sent from elsewhere" in resp.get_data(as_text=True)
    auth.login("admin")
    resp = client.post("/logout")
    assert resp.status_code == 400
    assert client.get("/").status_code == 200  # still logged in


@pytest.mark.parametrize(
    "next_url,expected",
    [
        ("/audit", "/audit"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_it_only_follows_local_next_urls(auth, next_url, expected):
    resp = auth.login("admin", next_url=next_url)
    assert resp.headers["Location"] == expected


def test_it_sets_httponly_samesite_session_cookie(auth):
    resp = auth.login("admin")
    cookie = next(h for h in resp.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("role", ["viewer", "operator"])
@pytest.mark.parametrize("path", ["/users", "/audit", "/users/1"])
def test_it_keeps_non_admins_out_of_admin_pages(client, auth, role, path):
    auth.login(role)
    resp = client.get(path)
    assert resp.status_code == 403
    assert "This needs the admin role." in resp.get_data(as_text=True)


def test_it_keeps_a_viewer_from_creating_users(app, client, auth):
    auth.login("viewer")
    resp = auth.post("/users", {"username": "mallory", "role": "admin", "password": "x" * 12})
    assert resp.status_code == 403
    from app.models import User

    with app.app_context():
        assert User.by_username("mallory") is None


def test_it_refuses_a_disabled_user(app, client, auth, users):
    from app.models import User

    with app.app_context():
        db.session.get(User, users["viewer"]).active = False
        db.session.commit()
    assert auth.login("viewer").status_code == 401


def test_every_route_that_changes_state_names_the_role_it_needs(app):
    # Logging in and out are the only POSTs open to any session; everything else says who may do it.
    open_posts = {"auth.login", "auth.logout"}
    unguarded = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if "POST" in (rule.methods or ())
        and rule.endpoint not in open_posts
        and not hasattr(app.view_functions[rule.endpoint], "required_role")
    ]
    assert unguarded == []
    posts = [rule for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())]
    assert len(posts) > len(open_posts)  # the check above saw the real routes
