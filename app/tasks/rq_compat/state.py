"""What init_app() wired: the Redis each Celery app's workers read job records from, and who publishes.

Publishing picks, for the Redis a Queue was given, the first Celery app wired to that Redis (a process wires
one app; tests build several, and a later one with a broken broker must not take over). Code that never called
init_app (RQ users' scripts) publishes through a standalone Celery app configured from `celeryconfig`, whose
broker is the Redis the Queue was given.
"""

from __future__ import annotations

import functools
from urllib.parse import quote

from celery import Celery
from redis import Redis, SSLConnection

RedisAddress = tuple[str | None, int | None, int, str | None]
_redis_urls: dict[Celery, str] = {}
_publishers: dict[RedisAddress, Celery] = {}


def bind(celery_app: Celery, redis_url: str) -> None:
    """Remember that `celery_app` serves the jobs recorded in `redis_url`."""
    _redis_urls[celery_app] = redis_url
    _publishers.setdefault(address(Redis.from_url(redis_url)), celery_app)


def redis_url_of(celery_app: Celery) -> str:
    """The Redis holding the job records this app's workers run."""
    try:
        return _redis_urls[celery_app]
    except KeyError:
        raise RuntimeError("app.tasks.rq_compat.init_app() was not called for this Celery app") from None


def first_redis_url() -> str | None:
    """The Redis the first init_app() call named (the CLI's default), if any."""
    return next(iter(_redis_urls.values()), None)


def publisher(connection: Redis) -> Celery:
    """The Celery app that sends the messages of jobs recorded in `connection`'s Redis."""
    wired = _publishers.get(address(connection))
    return wired if wired is not None else standalone(connection_url(connection))


@functools.cache
def standalone(broker_url: str) -> Celery:
    """A publisher for code outside the project's processes: the project's Celery settings, this broker."""
    app = Celery("rq_compat", set_as_current=False)
    app.config_from_object("celeryconfig")
    app.conf.update(broker_url=broker_url, result_backend=broker_url)
    return app


def address(connection: Redis) -> RedisAddress:
    """Where a client connects: (host, port, db, unix socket path)."""
    kwargs = connection.connection_pool.connection_kwargs
    return kwargs.get("host"), kwargs.get("port"), int(kwargs.get("db") or 0), kwargs.get("path")


def connection_url(connection: Redis) -> str:
    """A URL for the Redis a client connects to (with its credentials), as Celery's broker_url."""
    pool = connection.connection_pool
    host, port, db, path = address(connection)
    kwargs = pool.connection_kwargs
    user, password = kwargs.get("username"), kwargs.get("password")
    auth = f"{quote(user or '', safe='')}:{quote(password, safe='')}@" if password else ""
    if path:
        return f"redis+socket://{auth}{path}?virtual_host={db}"
    scheme = "rediss" if issubclass(pool.connection_class, SSLConnection) else "redis"
    return f"{scheme}://{auth}{host}:{port}/{db}"
