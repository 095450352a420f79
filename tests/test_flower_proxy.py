"""Flower through the app: a real Flower (started as `make dev` starts it) behind /flower/, for admins only."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import subprocess
import sys
import urllib.request

import psutil
import pytest
import sqlalchemy as sa
from werkzeug.datastructures import Headers

from app.ops.flower import FLOWER_CSP, FLOWER_SCRIPT_HASHES, response_headers, upstream_headers, upstream_target
from tests.services import ROOT, free_port, stop_process, wait_for

FLOWER_AUTH = f"ops:{secrets.token_urlsafe(16)}"


def flower_answers(port: int) -> bool:
    """Flower's own health check (open to anyone, which is why its port stays private) says OK."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/flower/healthcheck", timeout=2) as resp:
            return resp.read() == b"OK"
    except OSError:
        return False


@pytest.fixture(scope="module")
def flower_process(service_env, tmp_path_factory):
    """Flower as the Procfile runs it: options from app/flowerconfig.py, the password from the environment."""
    port, log = free_port(), tmp_path_factory.mktemp("flower") / "flower.log"
    cmd = [sys.executable, "-m", "celery", "-A", "wsgi", "flower", "--conf=app/flowerconfig.py"]
    env = {**service_env, "FLOWER_BASIC_AUTH": FLOWER_AUTH}
    proc = subprocess.Popen(
        [*cmd, "--address=127.0.0.1", f"--port={port}"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: proc.poll() is not None or flower_answers(port), timeout=60, message="Flower to answer")
        assert proc.poll() is None, log.read_text()
        yield proc, port
    finally:
        stop_process(proc)


@pytest.fixture
def flower(app, flower_process, monkeypatch):
    """The app pointed at the running Flower with its password; yields Flower's port."""
    monkeypatch.setitem(app.config, "FLOWER_INTERNAL_URL", f"http://127.0.0.1:{flower_process[1]}")
    monkeypatch.setitem(app.config, "FLOWER_BASIC_AUTH", FLOWER_AUTH)
    return flower_process[1]


def test_flowers_password_is_not_on_its_command_line(flower_process):
    cmdline = " ".join(psutil.Process(flower_process[0].pid).cmdline())
    assert "flower" in cmdline and FLOWER_AUTH.split(":")[1] not in cmdline


def test_it_serves_flowers_pages_to_admins(auth, flower):
    auth.login("admin")
    resp = auth.client.get("/flower/", headers={"Authorization": "Basic bm9ib2R5Om5vdGhpbmc="})  # ours replaces it
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<title>Workers · Flower</title>" in page
    assert "/flower/static/js/flower.js" in page
    assert resp.headers["Cache-Control"] == "no-store" and "camera=()" in resp.headers["Permissions-Policy"]
    script = auth.client.get("/flower/static/js/flower.js")
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]


def test_flowers_inline_script_is_allowed_by_the_csp_and_nothing_else_is_loosened(auth, flower):
    auth.login("admin")
    resp = auth.client.get("/flower/workers")
    inline = re.findall(r"<script[^>]*>(.*?)</script>", resp.get_data(as_text=True), re.S)
    hashes = {"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in inline if s}
    csp = resp.headers["Content-Security-Policy"]
    assert resp.status_code == 200 and hashes and hashes <= set(FLOWER_SCRIPT_HASHES) and csp == FLOWER_CSP
    script_src = csp.split("script-src ")[1].split(";")[0]
    assert set(script_src.split()) == {"'self'", *FLOWER_SCRIPT_HASHES}  # no 'unsafe-inline', no other origin
    assert "frame-ancestors 'none'" in csp


@pytest.mark.parametrize("role", ["operator", "viewer"])
def test_it_refuses_flower_to_other_roles(auth, flower, role):
    auth.login(role)
    assert auth.client.get("/flower/").status_code == 403
    assert auth.client.get("/flower/metrics").status_code == 403


def test_it_sends_anonymous_visitors_to_the_login_page(client, flower):
    for path in ("/flower/", "/flower/metrics", "/flower/healthcheck", "/flower/api/workers"):
        resp = client.get(path)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login"), path


def test_flowers_metrics_need_an_admin(auth, flower):
    auth.login("admin")
    resp = auth.client.get("/flower/metrics")
    assert resp.status_code == 200 and "flower_events_total" in resp.get_data(as_text=True)


def test_a_flower_action_needs_our_csrf_token_and_is_audited(app, auth, flower):
    from app.models import AuditEvent

    auth.login("admin")
    page = auth.client.get("/flower/")
    token = auth.client.get_cookie("_xsrf", path="/flower/").value  # what Flower's script sends back
    assert page.status_code == 200 and token
    path = "/flower/api/worker/pool/grow/nobody@nowhere"
    assert auth.client.post(path, data={"n": "1"}).status_code == 400  # no token: refused here, audited nowhere
    resp = auth.client.post(path, data={"n": "1"}, headers={"X-XSRFToken": token})
    assert resp.status_code == 404 and "Unknown worker" in resp.get_data(as_text=True)  # Flower's own answer
    with app.app_context():
        from app.extensions import db

        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "flower.post")).all()
        assert [(e.actor, e.target) for e in events] == [("admin", path)]


def test_it_shows_a_clear_page_when_flower_is_down(app, auth, monkeypatch):
    monkeypatch.setitem(app.config, "FLOWER_INTERNAL_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setitem(app.config, "FLOWER_BASIC_AUTH", FLOWER_AUTH)
    auth.login("admin")
    resp = auth.client.get("/flower/")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 502 and "Flower did not answer (ConnectionRefusedError)" in page and "opsdash" in page


def test_a_wrong_flower_password_is_reported_not_passed_to_the_browser(app, auth, flower, monkeypatch):
    monkeypatch.setitem(app.config, "FLOWER_BASIC_AUTH", "ops:wrong")
    auth.login("admin")
    resp = auth.client.get("/flower/")
    assert resp.status_code == 502 and "WWW-Authenticate" not in resp.headers
    assert "Flower refused the password" in resp.get_data(as_text=True)


def test_the_workers_page_button_opens_flower_through_the_app(auth, flower):
    auth.login("admin")
    page = auth.client.get("/workers").get_data(as_text=True)
    assert '<a class="button" href="/flower/">Open Flower</a>' in page


def test_only_harmless_request_headers_reach_flower():
    incoming = Headers(
        {
            "Accept": "text/html",
            "Cookie": "session=the-users-session",
            "Authorization": "Basic c29tZW9uZTplbHNl",
            "Host": "evil.example",
            "X-Forwarded-For": "10.0.0.1",
            "X-Requested-With": "XMLHttpRequest",
        }
    )
    headers = upstream_headers(incoming, "ops:pw")
    assert headers == {
        "Accept": "text/html",
        "X-Requested-With": "XMLHttpRequest",
        "Authorization": "Basic " + base64.b64encode(b"ops:pw").decode(),
    }


def test_paths_cannot_leave_flower_or_smuggle_a_header():
    from werkzeug.exceptions import NotFound

    assert upstream_target("/flower/tasks", b"state=FAILURE&x=%2F") == "/flower/tasks?state=FAILURE&x=%2F"
    assert upstream_target("/flower/a b\r\nX-Evil: 1", b"") == "/flower/a%20b%0D%0AX-Evil:%201"
    with pytest.raises(NotFound):
        upstream_target("/flower/../metrics", b"")


def test_a_redirect_from_flower_stays_on_this_site():
    class Answer:
        headers = {"Location": "http://127.0.0.1:5555/flower/workers?x=1", "Set-Cookie": "_xsrf=theirs"}

    headers = response_headers(Answer())  # type: ignore[arg-type]
    assert headers == {"Location": "/flower/workers?x=1"}


@pytest.mark.browser
def test_flower_works_in_a_real_browser_through_the_app(browser, service_env, flower_process, users, tmp_path):
    from tests.browser import PageWatch, live_server
    from tests.conftest import PASSWORD

    env = {
        **service_env,
        "FLOWER_INTERNAL_URL": f"http://127.0.0.1:{flower_process[1]}",
        "FLOWER_BASIC_AUTH": FLOWER_AUTH,
    }
    with live_server(env, tmp_path / "gunicorn.log") as server:
        page = browser.new_page()
        watch = PageWatch(page)  # a script blocked by the CSP shows up here as a console error
        page.goto(server + "/login")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(server + "/")
        page.goto(server + "/workers")
        page.get_by_role("link", name="Open Flower").click()
        page.wait_for_url(server + "/flower/")
        page.wait_for_selector("#workers-table_wrapper", timeout=30_000)  # made by Flower's own scripts
        assert page.evaluate("typeof autorefresh") == "number"  # its inline script ran too
        page.close()
    assert watch.problems == []
