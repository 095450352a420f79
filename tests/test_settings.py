"""The settings object reads and never writes; app.localstate prepares var/ once; Celery gets its config from it."""

from __future__ import annotations

import stat

import pytest

from app import localstate
from app.config import ConfigError, Settings, celery_config


@pytest.fixture
def bare_env(monkeypatch, tmp_path):
    """No SECRET_KEY, REDIS_URL or FLOWER_BASIC_AUTH; VAR_DIR points at a folder that does not exist yet."""
    for name in ("SECRET_KEY", "REDIS_URL", "FLOWER_BASIC_AUTH", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    var = tmp_path / "var"
    monkeypatch.setenv("VAR_DIR", str(var))
    return var


def test_it_names_the_missing_secret_and_the_fix_instead_of_writing_one(bare_env, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    settings = Settings()  # a worker's settings: no session key needed
    assert settings.SECRET_KEY is None
    with pytest.raises(ConfigError, match=r"SECRET_KEY is not set .*run `make dev`"):
        settings.require_secret_key()
    assert not bare_env.exists()


def test_local_state_is_prepared_once_and_kept(bare_env):
    localstate.prepare()
    secrets = ("secret_key", "flower.auth", "broker/password", "broker/valkey.conf")
    first = {name: (bare_env / name).read_text() for name in (*secrets, "broker/port")}
    assert {name: stat.S_IMODE((bare_env / name).stat().st_mode) for name in secrets} == dict.fromkeys(secrets, 0o600)
    assert first["flower.auth"].startswith("admin:")
    password = first["broker/password"]
    assert len(password) >= 32 and f'requirepass "{password}"' in first["broker/valkey.conf"]
    localstate.prepare()
    assert first == {name: (bare_env / name).read_text() for name in first}
    settings = Settings()
    assert settings.SECRET_KEY == first["secret_key"]
    assert settings.REDIS_URL == f"redis://:{password}@127.0.0.1:{first['broker/port'].strip()}/0"
    assert settings.FLOWER_BASIC_AUTH == first["flower.auth"]


def test_the_broker_password_is_added_to_an_existing_var_dir(bare_env):
    localstate.prepare()
    (bare_env / "broker" / "password").unlink()  # var/ from before the broker had a password
    localstate.prepare()
    password = (bare_env / "broker" / "password").read_text()
    assert f'requirepass "{password}"' in (bare_env / "broker" / "valkey.conf").read_text()
    assert f":{password}@" in Settings().REDIS_URL


def test_flowers_settings_fail_loudly(bare_env, monkeypatch):
    from app.config import flower_basic_auth

    with pytest.raises(ConfigError, match=r"FLOWER_BASIC_AUTH is not set .*run `make dev`"):
        flower_basic_auth(required=True)  # what Flower's config file asks: it never runs without a password
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert Settings().FLOWER_BASIC_AUTH is None  # the web then says so on /flower/
    monkeypatch.setenv("FLOWER_BASIC_AUTH", "no-colon")
    with pytest.raises(ConfigError, match="FLOWER_BASIC_AUTH must be user:password"):
        Settings()
    monkeypatch.setenv("FLOWER_BASIC_AUTH", "ops:pw")
    monkeypatch.setenv("FLOWER_INTERNAL_URL", "http://127.0.0.1:5555/elsewhere")
    with pytest.raises(ConfigError, match="FLOWER_INTERNAL_URL='http://127.0.0.1:5555/elsewhere' must look like"):
        Settings()
    monkeypatch.setenv("FLOWER_INTERNAL_URL", "http://flower.internal:5555/")
    assert Settings().FLOWER_INTERNAL_URL == "http://flower.internal:5555"
    monkeypatch.setenv("FLOWER_URL", "https://flower.example.com/")
    with pytest.raises(ConfigError, match="FLOWER_URL is no longer used: admins reach Flower through the app"):
        Settings()


def test_a_given_flower_password_replaces_the_generated_one(bare_env, monkeypatch):
    localstate.prepare()
    monkeypatch.setenv("FLOWER_BASIC_AUTH", "ops:a-long-secret")
    localstate.prepare()
    assert (bare_env / "flower.auth").read_text() == "ops:a-long-secret"


def test_celery_takes_limits_and_intervals_from_the_settings(bare_env, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s")
    monkeypatch.setenv("REDIS_URL", "redis://broker.example:6379/0")
    monkeypatch.setenv("TASK_TIME_LIMIT", "900")
    monkeypatch.setenv("REAPER_INTERVAL", "45")
    conf = celery_config(Settings().flask_config())
    assert conf["broker_url"] == "redis://broker.example:6379/0" and conf["task_time_limit"] == 900
    assert conf["broker_transport_options"]["visibility_timeout"] == 1500
    assert conf["beat_schedule"]["reap-lost-jobs"]["schedule"] == 45
    with pytest.raises(ConfigError, match="TASK_TIME_LIMIT='soon' is not a whole number"):
        monkeypatch.setenv("TASK_TIME_LIMIT", "soon")
        Settings()


def test_a_worker_runs_jobs_without_the_web_session_key(app, service_env, tmp_path):
    from tests.conftest import running_worker

    env = {k: v for k, v in service_env.items() if k != "SECRET_KEY"}
    env["VAR_DIR"] = str(tmp_path / "empty-var")  # no var/secret_key to fall back on either
    with running_worker(app, env, tmp_path / "worker.log", "nokey", queues="nokey"):
        reply = app.extensions["celery"].send_task("app.tasks.ops.ping", queue="nokey").get(timeout=60)
    assert reply["users"] == 0


def test_session_lifetimes_and_login_limits_come_from_the_settings(bare_env, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s")
    monkeypatch.setenv("REDIS_URL", "redis://broker.example:6379/0")
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "1")
    monkeypatch.setenv("SESSION_IDLE_MINUTES", "15")
    monkeypatch.setenv("SESSION_MAX_HOURS", "8")
    monkeypatch.setenv("LOGIN_LIMIT_PER_ACCOUNT", "3 per 10 minutes")
    conf = Settings().flask_config()
    assert conf["REMEMBER_COOKIE_SECURE"] is True
    assert conf["PERMANENT_SESSION_LIFETIME"].total_seconds() == 15 * 60
    assert conf["REMEMBER_COOKIE_DURATION"].total_seconds() == 8 * 3600
    assert conf["LOGIN_LIMIT_PER_ACCOUNT"] == "3 per 10 minutes" and conf["LOGIN_LIMIT_PER_ADDRESS"] == "20/minute"
    assert conf["RATELIMIT_STORAGE_URI"] == "redis://broker.example:6379/0"


@pytest.mark.parametrize(
    "name,value,message",
    [
        ("SESSION_IDLE_MINUTES", "0", "SESSION_IDLE_MINUTES=0 must be at least 1"),
        ("SESSION_IDLE_MINUTES", "900", "SESSION_IDLE_MINUTES=900 is longer than SESSION_MAX_HOURS=12 hours"),
        ("SESSION_MAX_HOURS", "soon", "SESSION_MAX_HOURS='soon' is not a whole number"),
        ("LOGIN_LIMIT_PER_ADDRESS", "lots", "LOGIN_LIMIT_PER_ADDRESS='lots' is not a rate limit"),
    ],
)
def test_bad_session_and_login_settings_fail_loudly(bare_env, monkeypatch, name, value, message):
    monkeypatch.setenv("SECRET_KEY", "s")
    monkeypatch.setenv("REDIS_URL", "redis://broker.example:6379/0")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        Settings()
