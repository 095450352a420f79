"""`make dev` for real: six processes up, the printed admin can log in and open Flower, Ctrl-C stops them all."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from base64 import b64encode

import psutil
import pytest

from app.devbroker import server_binary, write_config
from tests.services import ROOT, free_port, port_open, wait_for

APP_VARS = ("REDIS_URL", "DATABASE_URL", "SECRET_KEY", "VAR_DIR")


def fetch(url: str, opener=None, data: dict | None = None, headers: dict | None = None) -> tuple[int, str]:
    """GET (or POST a form) and return status and body, without raising on 4xx/5xx."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with (opener or urllib.request.build_opener()).open(request, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except (urllib.error.URLError, TimeoutError, ConnectionError):  # still starting up
        return 0, ""


class DevStack:
    """`make dev` in its own session with a private VAR_DIR and free ports; stopped with SIGINT like Ctrl-C."""

    def __init__(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        self.env = {k: v for k, v in os.environ.items() if k not in APP_VARS}
        self.web, self.flower, self.var = free_port(), free_port(), tmp_path / "var"
        self.env.update(
            VAR_DIR=str(self.var), WEB_PORT=str(self.web), FLOWER_PORT=str(self.flower), WORKER_CONCURRENCY="1"
        )
        self.tmp, self.runs, self.proc = tmp_path, 0, None

    def start(self) -> None:
        """Run `make dev` once more, logging to its own file."""
        self.runs += 1
        self.log = self.tmp / f"make-dev-{self.runs}.log"
        self.proc = subprocess.Popen(
            ["make", "dev"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{self.web}"
        healthy = lambda: port_open(self.web) and fetch(base + "/healthz")[0] == 200  # noqa: E731
        wait_for(
            lambda: self.proc.poll() is not None or healthy(),
            timeout=120,
            interval=0.5,
            message="make dev to become healthy",
        )
        assert self.proc.poll() is None, self.log.read_text()

    def stop(self) -> None:
        """Ctrl-C: SIGINT to the whole group; every process must exit."""
        members = group_members(self.proc.pid)
        assert len(members) >= 7  # make, honcho and six processes
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(timeout=30)
        wait_for(
            lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in members),
            timeout=20,
            message="every dev process to exit",
        )

    def kill(self) -> None:
        """Clean up after a failed test: honcho puts each process in its own session, so killing make's
        group alone would leave them running; kill every descendant too."""
        if self.proc is None or self.proc.poll() is not None:
            return
        tree = psutil.Process(self.proc.pid).children(recursive=True)
        os.killpg(self.proc.pid, signal.SIGKILL)
        for child in tree:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                continue


@pytest.fixture
def dev_stack(tmp_path):
    stack = DevStack(tmp_path)
    try:
        yield stack
    finally:
        stack.kill()


def group_members(pgid: int) -> list[psutil.Process]:
    """Live processes in a process group."""
    found = []
    for p in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(p.pid) == pgid and p.status() != psutil.STATUS_ZOMBIE:
                found.append(p)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def test_make_dev_starts_everything_and_ctrl_c_stops_it(dev_stack):
    dev_stack.start()
    output = dev_stack.log.read_text()
    names = {m.group(1) for m in re.finditer(r"^\S+ system\s+\| (\w+)\.1 started", output, re.M)}
    assert names == {"broker", "web", "worker", "vmworker", "beat", "flower"}, output
    password = re.search(r"created user 'admin' with password: (\S+)", output).group(1)
    admin = _log_in(f"http://127.0.0.1:{dev_stack.web}", password)
    wait_for(lambda: port_open(dev_stack.flower), timeout=30, message="flower")
    _check_flower(dev_stack, admin)
    assert (dev_stack.var / "broker" / "password").read_text() not in output  # printed nowhere
    dev_stack.stop()
    # The second `make dev` installs nothing, creates no second admin, and the first password still works.
    dev_stack.start()
    again = dev_stack.log.read_text()
    assert "pip install" not in again and "created user" not in again and "Added hypervisor" not in again
    _log_in(f"http://127.0.0.1:{dev_stack.web}", password)
    dev_stack.stop()


def _check_flower(stack: DevStack, admin) -> None:  # type: ignore[no-untyped-def]
    """Flower wants its password, which is on no command line; admins reach it through the app, others do not."""
    flower, web = f"http://127.0.0.1:{stack.flower}/flower", f"http://127.0.0.1:{stack.web}/flower"
    assert fetch(flower + "/workers")[0] == 401
    auth = (stack.var / "flower.auth").read_text()
    assert fetch(flower + "/workers", headers={"Authorization": "Basic " + b64encode(auth.encode()).decode()})[0] == 200
    procs = [p for p in psutil.Process(stack.proc.pid).children(recursive=True) if "flower" in p.cmdline()]
    seen = " ".join(" ".join(p.cmdline() + list(p.environ().values())) for p in procs)
    assert procs and "--conf=app/flowerconfig.py" in seen and auth.split(":", 1)[1] not in seen, seen
    status, page = fetch(web + "/", admin)
    assert status == 200 and "<title>Workers · Flower</title>" in page
    status, metrics = fetch(web + "/metrics", admin)
    assert status == 200 and "flower_events_total" in metrics
    status, page = fetch(web + "/metrics")  # anonymous: sent to the login page
    assert "flower_events_total" not in page and 'name="csrf_token"' in page


def _log_in(base: str, password: str):  # type: ignore[no-untyped-def]
    """Log in through the real form with the printed password; the dashboard must greet admin. Returns the opener."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', fetch(base + "/login", opener)[1])
    status, page = fetch(
        base + "/login", opener, {"username": "admin", "password": password, "csrf_token": token.group(1)}
    )
    assert status == 200 and "Log out admin" in page
    return opener


def test_the_embedded_broker_keeps_queued_work_across_a_restart_and_needs_its_password(tmp_path):
    port = free_port()
    conf = write_config(tmp_path, port, "s3cret-broker-password")
    import redis

    for attempt in range(2):
        proc = subprocess.Popen([server_binary(), str(conf)], stdout=subprocess.DEVNULL)
        try:
            wait_for(lambda: port_open(port), timeout=10, message="broker")
            with pytest.raises(redis.AuthenticationError):
                redis.Redis(port=port).lpush("queue", "from-someone-without-the-password")
            client = redis.Redis(port=port, password="s3cret-broker-password")
            if attempt == 0:
                client.lpush("queue", "job-1", "job-2")
            else:
                assert client.lrange("queue", 0, -1) == [b"job-2", b"job-1"]
            client.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)
