"""Fixtures of the RQ conformance suite (loaded as a plugin by each tests/test_rq_compat_*.py).

Each conformance test takes `impl` and runs twice: on real RQ (`rq worker --burst` subprocesses) and on our
Celery-backed API (a real prefork Celery worker). Both are driven the same way: jobs enqueued in a test sit in
their queue until the test calls impl.run(), so both see the same states in the same order.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from redis import Redis

from tests.services import ROOT, start_worker, stop_process, wait_for

API_NAMES = (
    "Queue",
    "Job",
    "JobStatus",
    "Retry",
    "Callback",
    "Dependency",
    "Result",
    "get_current_job",
    "cancel_job",
    "requeue_job",
    "send_stop_job_command",
    "NoSuchJobError",
    "InvalidJobOperation",
    "DuplicateJobError",
    "JobTimeoutException",
    "TimeoutFormatError",
    "StartedJobRegistry",
    "FinishedJobRegistry",
    "FailedJobRegistry",
    "DeferredJobRegistry",
    "ScheduledJobRegistry",
    "CanceledJobRegistry",
)
QUEUES = {"celery": ("rqc", "rqc_b"), "rq": ("rqn", "rqn_b")}
UNSETTLED = {"queued", "started", "scheduled"}
RQ_BIN = str(Path(sys.executable).with_name("rq"))
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")  # kombu's Redis lists, one per priority step


def real_rq_api() -> SimpleNamespace:
    """RQ's own objects under the names our module exports."""
    import rq
    import rq.command
    import rq.exceptions
    import rq.job
    import rq.registry
    import rq.results
    import rq.timeouts

    found = {
        name: getattr(rq, name, None)
        or getattr(rq.job, name, None)
        or getattr(rq.registry, name, None)
        or getattr(rq.exceptions, name, None)
        for name in API_NAMES
    }
    found.update(
        Result=rq.results.Result,
        send_stop_job_command=rq.command.send_stop_job_command,
        JobTimeoutException=rq.timeouts.JobTimeoutException,
    )
    return SimpleNamespace(**found)


def our_api() -> SimpleNamespace:
    """Our module's objects."""
    import app.tasks.rq_compat as ours

    return SimpleNamespace(**{name: getattr(ours, name) for name in API_NAMES})


class Impl:
    """One implementation under test: its API, its queues, and how to let its workers run."""

    def __init__(self, name: str, redis: Redis, url: str, node: str | None, log_dir: Path, control: Any = None) -> None:
        self.name, self.redis, self.url, self.node, self.log_dir = name, redis, url, node, log_dir
        self.control = control
        self.api = our_api() if name == "celery" else real_rq_api()
        # Fresh queue names per test: after cancel_consumer, a worker's BRPOP already in flight can still take
        # one message from the queues it consumed and requeue it at the back (kombu logs "Requeuing undeliverable
        # message"), which would reorder or delay the next test's jobs if they used the same queues.
        suffix = uuid.uuid4().hex[:8]
        self.queue_name, self.other_queue = (f"{queue}_{suffix}" for queue in QUEUES[name])
        self.consuming = False
        self.background: list[subprocess.Popen] = []

    def __repr__(self) -> str:
        return self.name

    def queue(self, name: str | None = None, **kwargs: Any) -> Any:
        """A queue of this implementation (the test's main queue by default)."""
        return self.api.Queue(name or self.queue_name, connection=self.redis, **kwargs)

    def uid(self, prefix: str) -> str:
        """A custom job id no other test uses."""
        return f"{prefix}-{uuid.uuid4().hex[:8]}"

    def _burst(self) -> subprocess.Popen:
        """Start `rq worker --burst --with-scheduler` on both queues."""
        with (self.log_dir / "rq-worker.log").open("ab") as log:
            return subprocess.Popen(
                [
                    RQ_BIN,
                    "worker",
                    "--burst",
                    "--with-scheduler",
                    "--url",
                    self.url,
                    "-P",
                    str(ROOT),
                    self.queue_name,
                    self.other_queue,
                ],
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _consume(self, on: bool) -> None:
        """Have the Celery worker start (or stop) consuming the test queues, and see that it does."""
        wait_for(lambda: self._ask_to_consume(on), timeout=60, interval=0.2, message=f"{self.node} to follow")
        self.consuming = on

    def _ask_to_consume(self, on: bool) -> bool:
        """Ask again for each test queue the worker does not yet (or still) consume; True once none is left."""
        # An add_consumer that races the kombu-deferred end of the previous cancel_consumer can be lost, so the
        # worker's own list of queues is checked, not only its reply.
        active = self.control.inspect(destination=[self.node], timeout=5).active_queues() or {}
        consumed = {queue["name"] for queue in active.get(self.node, [])}
        wrong = [queue for queue in (self.queue_name, self.other_queue) if (queue in consumed) != on]
        call = self.control.add_consumer if on else self.control.cancel_consumer
        for queue in wrong:
            call(queue, destination=[self.node], reply=True, timeout=10)
        return not wrong

    def start(self) -> None:
        """Let workers run jobs in the background (RQ: one burst worker; Celery: consume the queues)."""
        if self.name == "rq":
            self.background.append(self._burst())
        elif not self.consuming:
            self._consume(True)

    def pause(self) -> None:
        """Stop taking new jobs (Celery); RQ burst workers never run unless started."""
        if self.name == "celery" and self.consuming:
            self._consume(False)

    def run(self, *jobs: Any, until: Callable[[], object] | None = None, timeout: float = 60) -> None:
        """Let workers run until `until()` holds, or every job in `jobs` has settled."""
        condition = until or (lambda: all(self.settled(job) for job in jobs))
        if self.name == "celery":
            self.start()
            wait_for(condition, timeout=timeout, message=f"{self.name} jobs to settle")
            return
        wait_for(
            lambda: self._burst().wait(timeout=timeout) is not None and condition(),
            timeout=timeout,
            interval=0,
            message=f"{self.name} jobs to settle",
        )

    def drained(self) -> bool:
        """No message of the test queues is waiting or running (RQ: its burst worker ran to the end)."""
        if self.name == "rq":
            return True
        lists = [f"{queue}{suffix}" for queue in (self.queue_name, self.other_queue) for suffix in PRIORITY_SUFFIXES]
        wip = [f"rq:wip:{queue}" for queue in (self.queue_name, self.other_queue)]
        return not any(self.redis.llen(key) for key in lists) and not any(self.redis.zcard(key) for key in wip)

    def settled(self, job: Any) -> bool:
        """The job is no longer waiting or running (or is gone)."""
        raw = self.redis.hget(job.key, "status")
        return raw is None or raw.decode() not in UNSETTLED

    def close(self) -> None:
        """Leave nothing running for the next test."""
        for proc in self.background:
            stop_process(proc, timeout=5)
        if self.name == "celery" and self.consuming:
            wip = [f"rq:wip:{queue}" for queue in (self.queue_name, self.other_queue)]
            wait_for(lambda: not any(self.redis.zcard(key) for key in wip), timeout=20, message="running jobs")
            self._consume(False)


def wipe(redis: Redis, queues: tuple[str, ...]) -> None:
    """Forget every RQ record and every pending message of the test queues."""
    for pattern in ("rq:*", "order:*", "callbacks:*", "counter:*"):
        keys = list(redis.scan_iter(pattern))
        if keys:
            redis.delete(*keys)
    lists = [f"{queue}{suffix}" for queue in queues for suffix in PRIORITY_SUFFIXES]
    redis.delete(*lists)


@pytest.fixture(scope="session")
def rq_redis(service_env: dict[str, str]) -> Redis:
    """A client of the test broker, where both implementations keep their records."""
    return Redis.from_url(service_env["REDIS_URL"])


@pytest.fixture(scope="session")
def rq_celery_worker(app: Any, service_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real prefork Celery worker for the RQ tests; it consumes the test queues only while a test lets it."""
    log = tmp_path_factory.mktemp("rq-worker") / "worker.log"
    proc = start_worker(service_env, log, queues="rqc_control", concurrency=2, name="rqc")
    node = f"rqc@{socket.gethostname()}"
    control = app.extensions["celery"].control
    try:
        wait_for(
            lambda: proc.poll() is not None or control.inspect(destination=[node], timeout=0.5).ping(),
            timeout=60,
            message="the RQ test worker to answer ping",
        )
        assert proc.poll() is None, log.read_text()
        yield node
    finally:
        stop_process(proc)


@pytest.fixture(params=["celery", "rq"])
def impl(
    request: pytest.FixtureRequest, rq_redis: Redis, service_env: dict[str, str], tmp_path: Path
) -> Iterator[Impl]:
    """The implementation under test, with empty queues and registries."""
    node = request.getfixturevalue("rq_celery_worker") if request.param == "celery" else None
    control = request.getfixturevalue("app").extensions["celery"].control
    current = Impl(request.param, rq_redis, service_env["REDIS_URL"], node, tmp_path, control)
    wipe(rq_redis, (current.queue_name, current.other_queue))
    try:
        yield current
    finally:
        current.close()


@pytest.fixture
def ours(
    app: Any, rq_redis: Redis, service_env: dict[str, str], tmp_path: Path, rq_celery_worker: str
) -> Iterator[Impl]:
    """Our implementation alone, for behaviour real RQ does not have (Celery names, limits, Flower)."""
    current = Impl(
        "celery", rq_redis, service_env["REDIS_URL"], rq_celery_worker, tmp_path, app.extensions["celery"].control
    )
    wipe(rq_redis, (current.queue_name, current.other_queue))
    try:
        yield current
    finally:
        current.close()


@pytest.fixture
def real_rq(rq_redis: Redis, service_env: dict[str, str], tmp_path: Path) -> Iterator[Impl]:
    """Real RQ alone, for reading what it wrote with our API."""
    current = Impl("rq", rq_redis, service_env["REDIS_URL"], None, tmp_path)
    wipe(rq_redis, (current.queue_name, current.other_queue))
    try:
        yield current
    finally:
        current.close()
