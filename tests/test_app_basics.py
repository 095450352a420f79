"""Database settings, error pages, static files and settings validation."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.config import ConfigError, env_bool, env_int, env_timezone
from app.extensions import db


def test_sqlite_runs_with_wal_busy_timeout_and_foreign_keys(app):
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("PostgreSQL run: these are SQLite settings")
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(sa.text("PRAGMA busy_timeout")).scalar() == 15000


def test_an_unexpected_error_shows_the_500_page_in_the_layout(service_env):
    from app import create_app

    broken = create_app({"TESTING": False, "PROPAGATE_EXCEPTIONS": False})

    @broken.get("/boom")
    def boom():  # a route that fails for real, as a bug would
        raise RuntimeError("bug")

    resp = broken.test_client().get("/boom")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 500 and "Something went wrong" in page and "opsdash" in page
    assert "RuntimeError" not in page


def test_htmx_is_served_from_our_own_static_files(client):
    resp = client.get("/static/vendor/htmx-2.0.11.min.js")
    assert resp.status_code == 200 and b'version:"2.0.11"' in resp.data


@pytest.mark.parametrize("name,value,call,message", [
    ("X_INT", "ten", lambda: env_int("X_INT", 1), "X_INT='ten' is not a whole number"),
    ("X_INT", "-3", lambda: env_int("X_INT", 1, minimum=0), "X_INT=-3 must be at least 0"),
    ("X_BOOL", "maybe", lambda: env_bool("X_BOOL", False), "X_BOOL='maybe' is not a yes/no value"),
    ("X_TZ", "Mars/Olympus", lambda: env_timezone("X_TZ", "UTC"), "X_TZ='Mars/Olympus' is not a time zone name"),
])
def test_bad_settings_fail_loudly_with_the_variable_named(monkeypatch, name, value, call, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        call()


def test_times_show_in_the_configured_time_zone(monkeypatch, service_env):
    from datetime import datetime, timezone

    from app import create_app

    monkeypatch.setenv("CELERY_TIMEZONE", "America/Bogota")
    bogota = create_app({"TESTING": True})
    assert bogota.extensions["celery"].conf.timezone == "America/Bogota"
    shown = bogota.jinja_env.filters["dt"](datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc))
    assert shown == "2026-01-01 07:00:00"


def test_pages_carry_security_headers(client):
    resp = client.get("/login")
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["X-Content-Type-Options"] == "nosniff"
