"""Settings read from the environment; bad values fail loudly at start-up."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

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


def var_dir() -> Path:
    """Directory for local state (SQLite file, embedded broker, secrets)."""
    path = Path(env_str("VAR_DIR", str(BASE_DIR / "var"))).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


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


def redis_url() -> str:
    """REDIS_URL, or the embedded broker's loopback address recorded under var/."""
    url = env_str("REDIS_URL")
    if url is not None:
        return url
    port_file = broker_port_file()
    if not port_file.exists():
        raise ConfigError(
            "REDIS_URL is not set and no embedded broker has been prepared "
            f"({port_file} is missing): run `make dev`, or set REDIS_URL"
        )
    return f"redis://127.0.0.1:{port_file.read_text().strip()}/0"


def secret_key() -> str:
    """SECRET_KEY, or one generated once and kept in var/ (so sessions survive restarts)."""
    key = env_str("SECRET_KEY")
    if key is not None:
        return key
    path = var_dir() / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class Config:
    """Everything the app reads from the environment, resolved once at start-up."""

    def __init__(self) -> None:
        self.SECRET_KEY = secret_key()
        self.SQLALCHEMY_DATABASE_URI = database_url()
        self.SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
        self.REDIS_URL = redis_url()
        self.RQ_REDIS_URL = env_str("RQ_REDIS_URL") or self.REDIS_URL
        self.CELERY_TIMEZONE = env_timezone("CELERY_TIMEZONE", "UTC")
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.WTF_CSRF_TIME_LIMIT = None  # tokens live as long as the session
        self.HEALTH_TIMEOUT = float(env_int("HEALTH_TIMEOUT_MS", 1000, minimum=100)) / 1000
        self.PROXY_HOPS = env_int("PROXY_HOPS", 0)
        self.PER_PAGE = env_int("PER_PAGE", 50, minimum=5)
        self.PLAYBOOKS_DIR = str(Path(env_str("PLAYBOOKS_DIR", str(BASE_DIR / "playbooks"))).resolve())
        self.ANSIBLE_HOST_KEY_CHECKING = env_bool("ANSIBLE_HOST_KEY_CHECKING", False)
        # Jobs' default limits are Celery's own (celeryconfig reads TASK_SOFT_TIME_LIMIT/TASK_TIME_LIMIT).
        import celeryconfig

        self.TASK_SOFT_TIME_LIMIT = celeryconfig.task_soft_time_limit
        self.TASK_TIME_LIMIT = celeryconfig.task_time_limit
        self.JOB_LOST_AFTER = env_int("JOB_LOST_AFTER", 90, minimum=10)
        self.LOG_TAIL_LINES = env_int("LOG_TAIL_LINES", 500, minimum=50)
        self.JOB_WORK_DIR = env_str("JOB_WORK_DIR")  # None: the system temp dir
        self.FLOWER_URL = env_str("FLOWER_URL", f"http://127.0.0.1:{env_int('FLOWER_PORT', 5555, minimum=1)}/")
