"""Fixtures: a real broker, a fresh database (SQLite or PostgreSQL), the app, a real Celery worker, users."""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.services import ROOT, embedded_broker, fresh_database, start_worker, stop_process, wait_for

PASSWORD = "correct horse battery"
ROLE_USERS = {"admin": "admin", "operator": "oper", "viewer": "viewer"}


@pytest.fixture(scope="session")
def service_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Start the broker and database; point this process (and children) at them."""
    tmp = tmp_path_factory.mktemp("services")
    playbooks = tmp / "playbooks"
    shutil.copytree(ROOT / "playbooks", playbooks)
    shutil.copytree(ROOT / "tests" / "playbooks", playbooks / "tests")
    with embedded_broker(tmp / "broker") as redis_url, fresh_database(tmp) as db_url:
        env = {
            "REDIS_URL": redis_url,
            "DATABASE_URL": db_url,
            "VAR_DIR": str(tmp / "var"),
            "SECRET_KEY": "test-secret",
            "HEALTH_TIMEOUT_MS": "1000",
            "PLAYBOOKS_DIR": str(playbooks),
            "JOB_WORK_DIR": str(tmp / "jobs"),
        }
        (tmp / "jobs").mkdir()
        os.environ.update(env)
        yield {**os.environ, **env}


@pytest.fixture(scope="session")
def app(service_env: dict[str, str]) -> Iterator[Flask]:
    """The app, its schema made by the migrations (the only way the schema is made)."""
    from flask_migrate import upgrade

    from app import create_app

    app = create_app({"TESTING": True})
    with app.app_context():
        upgrade()
    yield app


@contextmanager
def running_worker(app: Flask, env: dict[str, str], log: Path, name: str, **options: object) -> Iterator[str]:
    """Start a real Celery worker, wait until it answers ping, stop it afterwards; yields its log path."""
    proc = start_worker(env, log, name=name, **options)
    node = [f"{name}@{socket.gethostname()}"]
    control = app.extensions["celery"].control
    try:
        wait_for(
            lambda: proc.poll() is not None or control.inspect(destination=node, timeout=0.5).ping(),
            timeout=60,
            message=f"the {name} worker to answer ping",
        )
        assert proc.poll() is None, log.read_text()
        yield str(log)
    finally:
        stop_process(proc)


@pytest.fixture(scope="session")
def worker(app: Flask, service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real prefork Celery worker on the default and ansible queues; yields its log path."""
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    with running_worker(app, service_env, log, "test", queues="default,ansible") as path:
        yield path


@pytest.fixture(scope="session")
def vm_worker(app: Flask, service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The VM worker as `make dev` runs it (threads pool on `vms`: one libvirt connection per process),
    plus tests.libvirt_tasks, which lets a test change libvirt behind the dashboard's back."""
    log = tmp_path_factory.mktemp("vm-worker") / "worker.log"
    with running_worker(
        app, service_env, log, "vms", queues="vms", pool="threads", concurrency=4, include="tests.libvirt_tasks"
    ) as path:
        yield path


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty every table and forget every login throttle after each test that used the app."""
    yield
    if "app" not in request.fixturenames:
        return
    app: Flask = request.getfixturevalue("app")
    from app.extensions import db, limiter

    with app.app_context():
        db.session.remove()
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
        limiter.reset()


@pytest.fixture
def users(app: Flask) -> dict[str, int]:
    """One user per role, all with PASSWORD; maps role to user id."""
    from app.extensions import db
    from app.models import User

    with app.app_context():
        made = {}
        for role, name in ROLE_USERS.items():
            user = User(username=name, role=role)
            user.set_password(PASSWORD)
            db.session.add(user)
            db.session.flush()
            made[role] = user.id
        db.session.commit()
    return made


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client (CSRF stays on, as in production)."""
    return app.test_client()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


class Auth:
    """Log in as a role and send CSRF-protected posts like a browser does."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        """A CSRF token taken from a rendered page, as a browser would."""
        match = CSRF_RE.search(self.client.get(path).get_data(as_text=True))
        assert match, f"no CSRF token on {path}"
        return match.group(1) or match.group(2)

    def login(self, role: str = "admin", password: str = PASSWORD, next_url: str = "") -> object:
        """Submit the login form."""
        url = "/login" + (f"?next={next_url}" if next_url else "")
        return self.client.post(
            url, data={"username": ROLE_USERS.get(role, role), "password": password, "csrf_token": self.csrf("/login")}
        )

    def post(self, path: str, data: dict | None = None, **kwargs: object) -> object:
        """POST with the session's CSRF token."""
        token = self.csrf("/")
        return self.client.post(path, data={**(data or {}), "csrf_token": token}, **kwargs)


@pytest.fixture
def auth(client: FlaskClient, users: dict[str, int]) -> Auth:
    """The Auth helper, with users in place."""
    return Auth(client)


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where tests leave artefacts to look at (screenshots)."""
    path = Path(__file__).resolve().parent.parent / "test-output"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    import shutil

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs the chromium package (needs root or sudo)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
