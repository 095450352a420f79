"""The settings object: every setting read from the environment once, bad values failing loudly at start-up.

It only reads. `make dev` (python -m app.localstate) prepares var/ (secret key, Flower's password, the embedded
broker's port and password); a setting that needs one of those files and finds none says so.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent


class ConfigError(RuntimeError):
    """A setting in the environment has a value we cannot use."""


def env_str(name: str, default: str | None = None) -> str | None:
    """Return a string setting, or the default when unset or empty."""
    value = os.environ.get(name, "").strip()
    return value or default


def env_int(name: str, default: int, minimum: int = 0) -> int:
    """Return an integer setting; refuse non-numbers and values below minimum."""
    raw = env_str(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def env_bool(name: str, default: bool) -> bool:
    """Return a yes/no setting; refuse anything that is not clearly one of them."""
    raw = env_str(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not a yes/no value (use 1/0, true/false)")


def env_timezone(name: str, default: str) -> str:
    """An IANA time zone name such as UTC or America/Bogota."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = env_str(name, default) or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name}={value!r} is not a time zone name (e.g. UTC, America/Bogota)") from None
    return value


def env_rate(name: str, default: str) -> str:
    """A rate limit such as `5/minute` or `20 per hour` (Flask-Limiter's notation)."""
    from limits import parse

    value = env_str(name, default) or default
    try:
        parse(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r} is not a rate limit (e.g. 5/minute, 20 per hour)") from None
    return value


def session_lifetimes() -> tuple[int, int]:
    """SESSION_IDLE_MINUTES and SESSION_MAX_HOURS; an idle limit past the absolute one is a mistake."""
    idle = env_int("SESSION_IDLE_MINUTES", 30, minimum=1)
    most = env_int("SESSION_MAX_HOURS", 12, minimum=1)
    if idle > most * 60:
        raise ConfigError(f"SESSION_IDLE_MINUTES={idle} is longer than SESSION_MAX_HOURS={most} hours")
    return idle, most


def var_dir() -> Path:
    """Directory for local state (SQLite file, embedded broker, secrets); made by app.localstate."""
    return Path(env_str("VAR_DIR", str(BASE_DIR / "var")) or "var").resolve()


def database_url() -> str:
    """DATABASE_URL, or a SQLite file under var/."""
    url = env_str("DATABASE_URL")
    if url is None:
        return f"sqlite:///{var_dir() / 'opsdash.sqlite3'}"
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def broker_port_file() -> Path:
    """Where the embedded broker records the port it listens on."""
    return var_dir() / "broker" / "port"


def broker_password_file() -> Path:
    """Where the embedded broker's generated password is kept (mode 0600)."""
    return var_dir() / "broker" / "password"


def _prepared(path: Path, setting: str) -> str:
    """The content of a file app.localstate wrote, or a ConfigError naming the setting and the fix."""
    if not path.exists():
        raise ConfigError(
            f"{setting} is not set and {path} does not exist: run `make dev` (or `python -m app.localstate`) "
            f"to prepare {path.parent}, or set {setting}"
        )
    return path.read_text().strip()


def redis_url() -> str:
    """REDIS_URL, or the embedded broker's loopback address and password recorded under var/."""
    url = env_str("REDIS_URL")
    if url:
        return url
    port = _prepared(broker_port_file(), "REDIS_URL")
    password = quote(_prepared(broker_password_file(), "REDIS_URL"), safe="")
    return f"redis://:{password}@127.0.0.1:{port}/0"


def flower_basic_auth(required: bool) -> str | None:
    """Flower's `user:password`: FLOWER_BASIC_AUTH, else var/flower.auth (None when optional and absent)."""
    path = var_dir() / "flower.auth"
    value = env_str("FLOWER_BASIC_AUTH")
    if value is None and (required or path.exists()):
        value = _prepared(path, "FLOWER_BASIC_AUTH")
    if value is not None and ":" not in value:
        raise ConfigError("FLOWER_BASIC_AUTH must be user:password")
    return value


def flower_internal_url() -> str:
    """Where web processes reach Flower (through the /flower/ proxy): an http(s) address without a path."""
    if env_str("FLOWER_URL"):
        raise ConfigError(
            "FLOWER_URL is no longer used: admins reach Flower through the app at /flower/; "
            "set FLOWER_INTERNAL_URL to the address the web processes reach Flower at"
        )
    default = f"http://127.0.0.1:{env_int('FLOWER_PORT', 5555, minimum=1)}"
    url = env_str("FLOWER_INTERNAL_URL", default) or default
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/") or parts.query:
        raise ConfigError(f"FLOWER_INTERNAL_URL={url!r} must look like http://127.0.0.1:5555 (no path)")
    return f"{parts.scheme}://{parts.netloc}"


def secret_key() -> str | None:
    """SECRET_KEY, or the one generated once into var/ (so sessions survive restarts); None when neither is there."""
    path = var_dir() / "secret_key"
    return env_str("SECRET_KEY") or (path.read_text().strip() if path.exists() else None)


class Settings:
    """Everything the processes read from the environment, resolved once; Flask and Celery get it from here."""

    def __init__(self) -> None:
        self.SECRET_KEY = secret_key()
        self.SQLALCHEMY_DATABASE_URI = database_url()
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.REDIS_URL = redis_url()
        self.RQ_REDIS_URL = env_str("RQ_REDIS_URL") or self.REDIS_URL
        self.CELERY_TIMEZONE = env_timezone("CELERY_TIMEZONE", "UTC")
        self._sessions()
        self.WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session
        self._login_limits()
        self.HEALTH_TIMEOUT = float(env_int("HEALTH_TIMEOUT_MS", 1000, minimum=100)) / 1000
        self.PROXY_HOPS = env_int("PROXY_HOPS", 0)
        self.PER_PAGE = env_int("PER_PAGE", 50, minimum=5)
        # Bigger requests get 413 before anything reads them (an inventory upload is the largest legitimate one).
        self.MAX_CONTENT_LENGTH = env_int("MAX_REQUEST_MB", 2, minimum=1) * 1024 * 1024
        self.PLAYBOOKS_DIR = str(Path(env_str("PLAYBOOKS_DIR", str(BASE_DIR / "playbooks")) or ".").resolve())
        self.ANSIBLE_HOST_KEY_CHECKING = env_bool("ANSIBLE_HOST_KEY_CHECKING", False)
        self.TASK_SOFT_TIME_LIMIT = env_int("TASK_SOFT_TIME_LIMIT", 25 * 60, minimum=1)
        self.TASK_TIME_LIMIT = env_int("TASK_TIME_LIMIT", 30 * 60, minimum=2)
        self.CELERY_MAX_TASKS_PER_CHILD = env_int("CELERY_MAX_TASKS_PER_CHILD", 50, minimum=1)
        self.JOB_LOST_AFTER = env_int("JOB_LOST_AFTER", 90, minimum=10)
        self.REAPER_INTERVAL = env_int("REAPER_INTERVAL", 30, minimum=5)
        self.VM_RECONCILE_INTERVAL = env_int("VM_RECONCILE_INTERVAL", 60, minimum=5)
        self.LOG_TAIL_LINES = env_int("LOG_TAIL_LINES", 500, minimum=50)
        self.JOB_WORK_DIR = env_str("JOB_WORK_DIR")  # None: the system temp dir
        self.FLOWER_INTERNAL_URL = flower_internal_url()
        self.FLOWER_BASIC_AUTH = flower_basic_auth(required=False)  # the /flower/ proxy says so when it is missing
        self.FLOWER_TIMEOUT = env_int("FLOWER_TIMEOUT", 30, minimum=1)

    def require_secret_key(self) -> None:
        """Web processes sign sessions with SECRET_KEY; workers never need it (and should not be able to read it)."""
        if not self.SECRET_KEY:
            _prepared(var_dir() / "secret_key", "SECRET_KEY")

    def _sessions(self) -> None:
        """Cookie flags and lifetimes of the session and the remember-me cookie."""
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.SESSION_IDLE_MINUTES, self.SESSION_MAX_HOURS = session_lifetimes()
        # Flask re-signs the session cookie on every request and refuses one signed longer ago than this.
        self.PERMANENT_SESSION_LIFETIME = timedelta(minutes=self.SESSION_IDLE_MINUTES)
        self.REMEMBER_COOKIE_DURATION = timedelta(hours=self.SESSION_MAX_HOURS)

    def _login_limits(self) -> None:
        """Login throttling (Flask-Limiter), counted in the broker's Redis so every web process shares it."""
        self.LOGIN_LIMIT_PER_ACCOUNT = env_rate("LOGIN_LIMIT_PER_ACCOUNT", "5/minute")
        self.LOGIN_LIMIT_PER_ADDRESS = env_rate("LOGIN_LIMIT_PER_ADDRESS", "20/minute")
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL
        self.RATELIMIT_STRATEGY = "fixed-window"
        # When Redis is down, count in this process rather than refuse every login.
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True

    def flask_config(self) -> dict[str, Any]:
        """The settings as Flask config keys."""
        return dict(vars(self))


def celery_config(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """What Celery takes from the settings (given as Flask config), on top of celeryconfig's fixed values."""
    # Redis redelivers an unacked message after this long; it must outlast the longest job.
    visibility = {"visibility_timeout": cfg["TASK_TIME_LIMIT"] + 600}
    return {
        "broker_url": cfg["REDIS_URL"],
        # kombu's Redis transport with a fix for lost connections (see app/broker_transport.py); None: by URL.
        "broker_transport": "app.broker_transport:Transport" if cfg["REDIS_URL"].startswith("redis://") else None,
        "result_backend": cfg["REDIS_URL"],
        "timezone": cfg["CELERY_TIMEZONE"],
        "task_soft_time_limit": cfg["TASK_SOFT_TIME_LIMIT"],
        "task_time_limit": cfg["TASK_TIME_LIMIT"],
        "worker_max_tasks_per_child": cfg["CELERY_MAX_TASKS_PER_CHILD"],
        "broker_transport_options": visibility,
        "result_backend_transport_options": visibility,
        "beat_schedule": {
            "reap-lost-jobs": {"task": "app.tasks.ops.reap", "schedule": cfg["REAPER_INTERVAL"]},
            "reconcile-vms": {"task": "app.tasks.vms.reconcile", "schedule": cfg["VM_RECONCILE_INTERVAL"]},
        },
    }
