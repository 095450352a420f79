"""Under load: 20 clients submit 200 runs through gunicorn to 4 worker processes while 100 pollers watch the
live log. A test of counts, not times: every job recorded once, finished, with its own log, and no request
answered with an error."""

from __future__ import annotations

import html
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.client import HTTPException
from http.cookiejar import CookieJar

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Job, JobLine, User
from tests.conftest import CSRF_RE, PASSWORD, running_worker
from tests.jobs_helpers import add_hosts
from tests.services import ROOT, free_port, stop_process, wait_for

CLIENTS, RUNS_EACH, POLLERS, VIEWERS = 20, 10, 100, 10
POLL_EVERY = 1.0  # what the job page's htmx poller does
WITHIN = 900  # seconds for each phase on a loaded 2-CPU machine (it takes far less)
SEQ_RE = re.compile(r'data-seq="(\d+)"')
NEXT_POLL_RE = re.compile(r'id="log-poller" hx-get="([^"]+)"')
MESSAGE_RE = re.compile(r"load c\d+ r\d+")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand redirects back to the caller (who reads the job id from Location) instead of following them."""

    def redirect_request(self, *args: object) -> None:
        return None


@dataclass
class Answer:
    status: int  # 0 when the request never got an answer
    body: str = ""
    location: str = ""


@dataclass
class Browser:
    """One session (its own cookie jar) on the server; every answer it did not expect goes to `errors`."""

    base: str
    errors: list[str]
    statuses: list[int]  # of every answer, shared by all browsers (list.append is atomic)
    opener: urllib.request.OpenerDirector = field(init=False)

    def __post_init__(self) -> None:
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect)

    def get(self, path: str, expect: tuple[int, ...] = (200,), **headers: str) -> Answer:
        """GET `path`."""
        return self.send(urllib.request.Request(self.base + path, headers=headers), expect)

    def post(self, path: str, fields: dict[str, str], expect: tuple[int, ...] = (302,)) -> Answer:
        """POST a form."""
        body = urllib.parse.urlencode(fields).encode()
        return self.send(urllib.request.Request(self.base + path, data=body), expect)

    def send(self, request: urllib.request.Request, expect: tuple[int, ...]) -> Answer:
        """Send; record anything unexpected, connection errors and timeouts included."""
        answer = self._answer(request)
        self.statuses.append(answer.status)
        if answer.status not in expect:
            self.errors.append(f"{request.get_method()} {request.selector}: {answer.status} {answer.body[:200]!r}")
        return answer

    def _answer(self, request: urllib.request.Request) -> Answer:
        """The status, body and Location of the answer, without raising."""
        try:
            with self.opener.open(request, timeout=60) as resp:
                return Answer(resp.status, resp.read().decode(), resp.headers.get("Location", ""))
        except urllib.error.HTTPError as err:
            return Answer(err.code, err.read().decode(), err.headers.get("Location", ""))
        except (urllib.error.URLError, OSError, HTTPException) as exc:
            return Answer(0, repr(exc))

    def csrf(self, path: str) -> str:
        """The CSRF token from a form page."""
        match = CSRF_RE.search(self.get(path).body)
        return (match.group(1) or match.group(2)) if match else ""

    def login(self, username: str) -> None:
        """Log in through the login form."""
        self.post("/login", {"username": username, "password": PASSWORD, "csrf_token": self.csrf("/login")})


@dataclass
class Watch:
    """What one poller saw of one job."""

    ended: bool = False
    seqs: list[int] = field(default_factory=list)


@dataclass
class Run:
    """Shared state of the run: what clients submitted, what pollers saw, every unexpected answer."""

    base: str
    errors: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    submitted: dict[int, str] = field(default_factory=dict)  # job id -> its unique message
    watched: dict[int, list[Watch]] = field(default_factory=lambda: defaultdict(list))
    to_watch: queue.Queue[int | None] = field(default_factory=queue.Queue)
    stop: threading.Event = field(default_factory=threading.Event)


def submit_runs(run: Run, client: int) -> None:
    """One client: log in, then submit RUNS_EACH runs of the say playbook on its own host through the form."""
    browser = Browser(run.base, run.errors, run.statuses)
    browser.login(f"load-op-{client:02d}")
    for n in range(RUNS_EACH):
        message = f"load c{client} r{n}"
        fields = {"playbook": "tests/say.yml", "target": "hosts", "hosts": f"load-{client:02d}", "forks": "5"}
        fields.update(extra_vars=f"message: {message}", csrf_token=browser.csrf("/run"))
        answer = browser.post("/run", fields)
        if answer.status == 302:
            job_id = int(answer.location.rsplit("/", 1)[1])
            run.submitted[job_id] = message
            run.to_watch.put(job_id)


def poll_jobs(run: Run, browser: Browser) -> None:
    """One poller: take the next job that appeared, look at the history page, follow the job's live log to its end."""
    while not run.stop.is_set():
        job_id = run.to_watch.get()
        if job_id is None:
            return
        browser.get("/jobs/")
        run.watched[job_id].append(follow_log(run, browser, job_id))


def follow_log(run: Run, browser: Browser, job_id: int) -> Watch:
    """Poll /jobs/<id>/tail as the page's htmx poller does (each answer names the next URL) until 286."""
    watch, url = Watch(), f"/jobs/{job_id}/tail?after=0"
    while not run.stop.is_set():
        answer = browser.get(url, expect=(200, 286), **{"HX-Request": "true"})
        if answer.status in (200, 286):
            watch.seqs += [int(seq) for seq in SEQ_RE.findall(answer.body)]
        if answer.status == 286:
            watch.ended = True
            return watch
        follow = NEXT_POLL_RE.search(answer.body)
        url = html.unescape(follow.group(1)) if follow else url  # after an error, the same poll again
        run.stop.wait(POLL_EVERY)
    return watch


def add_users(app, prefix: str, role: str, count: int) -> None:
    """`count` users of one role, named prefix-01, prefix-02..."""
    with app.app_context():
        for n in range(count):
            user = User(username=f"{prefix}-{n:02d}", role=role)
            user.set_password(PASSWORD)
            db.session.add(user)
        db.session.commit()


@pytest.fixture
def web(service_env, tmp_path) -> Iterator[str]:
    """The app under gunicorn as the Procfile starts it (2 workers, 4 threads each); yields its base URL."""
    port, log = free_port(), tmp_path / "gunicorn.log"
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4"]
    proc = subprocess.Popen(
        [*cmd, "wsgi:app"], cwd=ROOT, env=service_env, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(
            lambda: proc.poll() is not None or Browser(base, [], []).get("/login").status == 200,
            timeout=60,
            interval=0.2,
            message="gunicorn to serve the login page",
        )
        assert proc.poll() is None, log.read_text()
        yield base
    finally:
        stop_process(proc)


@pytest.fixture
def four_processes(app, service_env, tmp_path) -> Iterator[None]:
    """A prefork worker with 4 processes on the default and ansible queues."""
    with running_worker(app, service_env, tmp_path / "worker.log", "load", queues="default,ansible", concurrency=4):
        yield


def start(threads: list[threading.Thread]) -> list[threading.Thread]:
    """Start the threads; return them."""
    for thread in threads:
        thread.start()
    return threads


def wait_threads(threads: list[threading.Thread], what: str) -> None:
    """Wait (up to WITHIN) until every thread has ended."""
    wait_for(lambda: not any(t.is_alive() for t in threads), timeout=WITHIN, interval=0.5, message=what)


def run_load(run: Run) -> None:
    """Clients and pollers at once; pollers stop once every submitted job has been followed to its end."""
    viewers = [Browser(run.base, run.errors, run.statuses) for _ in range(VIEWERS)]
    for n, browser in enumerate(viewers):
        browser.login(f"load-view-{n:02d}")  # each viewer's session is shared by POLLERS / VIEWERS pollers (tabs)
    pollers = start([threading.Thread(target=poll_jobs, args=(run, viewers[n % VIEWERS])) for n in range(POLLERS)])
    clients = start([threading.Thread(target=submit_runs, args=(run, n)) for n in range(CLIENTS)])
    try:
        wait_threads(clients, "every client to submit its runs")
    finally:
        for _ in pollers:
            run.to_watch.put(None)
    try:
        wait_threads(pollers, "every poller to see the jobs it watched end")
    finally:
        run.stop.set()
        for thread in pollers + clients:
            thread.join(timeout=60)


def stored_logs(app) -> tuple[dict[int, str], dict[int, list[tuple[int, str]]]]:
    """Every job's status, and every job's log lines (seq, text) in seq order."""
    with app.app_context():
        statuses = dict(db.session.execute(sa.select(Job.id, Job.status)).all())
        lines: dict[int, list[tuple[int, str]]] = defaultdict(list)
        rows = db.session.execute(sa.select(JobLine.job_id, JobLine.seq, JobLine.text).order_by(JobLine.seq))
        for job_id, seq, text in rows:
            lines[job_id].append((seq, text))
    return {job_id: str(status) for job_id, status in statuses.items()}, lines


def log_problems(job_id: int, message: str, lines: list[tuple[int, str]]) -> list[str]:
    """What is wrong with one job's stored log: gaps or repeats in seq, not one play, another job's output."""
    seqs, text = [seq for seq, _ in lines], "".join(text for _, text in lines)
    problems = []
    if seqs != list(range(1, len(seqs) + 1)):
        repeated = [seq for seq, count in Counter(seqs).items() if count > 1]
        problems.append(f"job {job_id}: seqs not 1..{len(seqs)} (repeated {repeated})")
    if text.count("PLAY [") != 1:
        problems.append(f"job {job_id}: {text.count('PLAY [')} plays")
    if set(MESSAGE_RE.findall(text)) != {message}:
        problems.append(f"job {job_id}: messages {sorted(set(MESSAGE_RE.findall(text)))}, expected [{message!r}]")
    return problems


def test_it_records_and_finishes_every_run_of_concurrent_clients_while_pollers_watch(app, web, four_processes):
    add_hosts(app, *[f"load-{n:02d}" for n in range(CLIENTS)])  # one host per client: its runs queue for it
    add_users(app, "load-op", "operator", CLIENTS)
    add_users(app, "load-view", "viewer", VIEWERS)
    run, began = Run(web), time.monotonic()
    run_load(run)
    took, answers = time.monotonic() - began, sorted(Counter(run.statuses).items())
    print(f"\n{CLIENTS * RUNS_EACH} runs, {POLLERS} pollers: {took:.0f}s, {len(run.statuses)} requests {answers}")
    assert run.errors == [], f"{len(run.errors)} requests went wrong, the first: {run.errors[:10]}"
    assert len(run.submitted) == CLIENTS * RUNS_EACH
    statuses, lines = stored_logs(app)
    assert sorted(statuses) == sorted(run.submitted)  # every submitted run has its one row, and no other row exists
    assert {job_id: s for job_id, s in statuses.items() if s != "successful"} == {}
    problems = [p for job_id, message in run.submitted.items() for p in log_problems(job_id, message, lines[job_id])]
    assert problems == [], problems[:20]
    assert sorted(run.watched) == sorted(run.submitted) and all(len(w) == 1 for w in run.watched.values())
    unended = [job_id for job_id, (watch,) in run.watched.items() if not watch.ended]
    assert unended == [], f"pollers never got 286 for jobs {unended}"
    mismatched = [job_id for job_id, (w,) in run.watched.items() if w.seqs != [s for s, _ in lines[job_id]]]
    assert mismatched == [], f"pollers saw other lines than stored for jobs {mismatched}"
