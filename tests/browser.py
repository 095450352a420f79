"""Real-browser helpers: the app served by a real gunicorn, Chromium driven by Playwright."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.services import ROOT, free_port, port_open, stop_process, wait_for

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@contextmanager
def live_server(env: dict[str, str], log: Path) -> Iterator[str]:
    """Serve wsgi:app with gunicorn on a free loopback port; yield its base URL."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "4",
        "wsgi:app",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: proc.poll() is not None or port_open(port), timeout=30, message="gunicorn")
        assert proc.poll() is None, log.read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)


class PageWatch:
    """Collects console errors and failed requests from a Playwright page."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", self._failed)
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def _failed(self, request) -> None:  # type: ignore[no-untyped-def]
        """A request that failed; ones the browser dropped because the page navigated away are not failures."""
        if request.failure != "net::ERR_ABORTED":
            self.problems.append(f"failed: {request.method} {request.url} {request.failure}")
