"""Failed logins are throttled per account and per address, audited once per window; unknown names cost a hash."""

from __future__ import annotations

import statistics
import time

import pytest
import sqlalchemy as sa

import app.models.user as user_model
from app.extensions import db, limiter
from app.models import AuditEvent, User
from tests.conftest import PASSWORD, Auth

WRONG = "not the password at all"


def attempt(client, username: str, password: str = WRONG, address: str = "127.0.0.1"):
    """One login attempt from an address."""
    token = Auth(client).csrf("/login")
    data = {"username": username, "password": password, "csrf_token": token}
    return client.post("/login", data=data, environ_base={"REMOTE_ADDR": address})


def throttle_audits(app) -> list[tuple[str, dict]]:
    """(target, detail) of every auth.throttled row."""
    with app.app_context():
        rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "auth.throttled"))
        return [(row.target, row.detail) for row in rows]


def assert_throttled(resp) -> None:
    """A 429 on the login page that says why and when to come back."""
    assert resp.status_code == 429
    assert 0 < int(resp.headers["Retry-After"]) <= 60
    page = resp.get_data(as_text=True)
    assert "Too many failed logins. Try again in" in page and 'name="password"' in page


def test_it_throttles_an_account_after_its_failed_logins(app, users, client):
    allowed = int(app.config["LOGIN_LIMIT_PER_ACCOUNT"].split("/")[0])
    assert [attempt(client, "viewer").status_code for _ in range(allowed)] == [401] * allowed
    assert_throttled(attempt(client, "Viewer"))  # the name is normalised like the login does
    assert_throttled(attempt(client, "viewer", PASSWORD, address="10.0.0.9"))  # right password, other address
    assert attempt(client, "oper", PASSWORD).status_code == 302  # another account is not held up
    assert throttle_audits(app) == [("viewer", {"by": "account", "limit": "5 per 1 minute"})]


def test_it_throttles_an_address_trying_many_accounts(app, users, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ADDRESS", "3/minute")
    names = ["ann", "bob", "cid", "dee", "eve"]
    assert [attempt(client, name, address="10.0.0.7").status_code for name in names[:3]] == [401] * 3
    for name in names[3:]:
        assert_throttled(attempt(client, name, address="10.0.0.7"))
    assert attempt(client, "ann", address="10.0.0.8").status_code == 401  # another address is not held up
    assert throttle_audits(app) == [("10.0.0.7", {"by": "address", "limit": "3 per 1 minute"})]


def test_it_audits_once_per_throttled_window(app, users, client, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", "1/minute")
    attempt(client, "viewer")
    for _ in range(3):
        assert_throttled(attempt(client, "viewer"))
    assert len(throttle_audits(app)) == 1
    with app.app_context():
        limiter.reset()  # what the window's end does: counters and the audit marker expire with it
    attempt(client, "viewer")
    assert_throttled(attempt(client, "viewer"))
    assert len(throttle_audits(app)) == 2


def test_successful_logins_do_not_count(app, users, client):
    allowed = int(app.config["LOGIN_LIMIT_PER_ACCOUNT"].split("/")[0])
    for _ in range(allowed + 2):
        assert attempt(client, "viewer", PASSWORD).status_code == 302
        client.post("/logout", data={"csrf_token": Auth(client).csrf("/")})
    assert throttle_audits(app) == []


@pytest.fixture
def hash_checks(monkeypatch) -> list[str]:
    """Every password hash the login checks against, in order."""
    seen: list[str] = []
    real = user_model.check_password_hash

    def counting(pwhash: str, password: str) -> bool:
        seen.append(pwhash)
        return real(pwhash, password)

    monkeypatch.setattr(user_model, "check_password_hash", counting)
    return seen


def test_an_unknown_username_costs_the_same_hash_check_as_a_wrong_password(app, users, client, hash_checks):
    assert attempt(client, "viewer").status_code == 401
    assert attempt(client, "nobody").status_code == 401
    assert len(hash_checks) == 2
    known, unknown = (h.split("$")[0] for h in hash_checks)
    assert unknown == known  # the same method and cost parameters (e.g. scrypt:32768:8:1)


def test_an_unknown_username_takes_about_as_long_as_a_wrong_password(app, users):
    with app.app_context():
        User.authenticate("nobody", WRONG)  # the dummy hash is made once, on first use

        def median_seconds(name: str) -> float:
            runs = []
            for _ in range(5):
                start = time.perf_counter()
                assert User.authenticate(name, WRONG) is None
                runs.append(time.perf_counter() - start)
            return statistics.median(runs)

        known, unknown = median_seconds("viewer"), median_seconds("nobody")
    assert unknown >= 0.5 * known, (known, unknown)
