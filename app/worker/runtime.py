"""The job runtime inside a worker: start (locks, guarded transition), log lines, heartbeat, finish."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from billiard.exceptions import SoftTimeLimitExceeded
from flask import current_app

from app.extensions import db
from app.jobcore.status import JobStatus, StartOutcome
from app.jobcore.submit import kick_waiting
from app.jobcore.transitions import begin_running, cancel_requested, finish, heartbeat, requeue
from app.models.job import Job, JobLine

HEARTBEAT_EVERY = 5.0
CANCEL_POLL_EVERY = 0.25
# How long a batch of log lines waits out a locked or unreachable database before the job gives up; the
# run itself goes on meanwhile (Ansible's output waits in the batch).
WRITE_PATIENCE = 120.0
log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Outcome:
    """What the work function reports: a final status and column values (rc, error)."""

    status: JobStatus
    values: dict[str, Any] = field(default_factory=dict)


class JobContext:
    """What the work function gets: ordered log lines, a cancel check and a heartbeat."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        last = db.session.scalar(sa.select(sa.func.max(JobLine.seq)).where(JobLine.job_id == job_id))
        self._next_seq = (last or 0) + 1
        self._last_beat = self._last_poll = 0.0
        self._cancel = False

    def write(self, lines: list[dict[str, Any]]) -> None:
        """Append lines (dicts with text, and optionally event, host, task, failed) in one insert."""
        rows = []
        for line in lines:
            rows.append(
                {
                    "job_id": self.job_id,
                    "seq": self._next_seq,
                    "text": line.get("text", ""),
                    "event": (line.get("event") or "")[:64],
                    "host": line.get("host"),
                    "task": line.get("task"),
                    "failed": bool(line.get("failed")),
                }
            )
            self._next_seq += 1
        if rows:
            self._patiently(lambda: _insert_lines(rows))

    def _patiently(self, action: Callable[[], None]) -> None:
        """Run a database write, retrying with backoff while the database is locked or away."""
        deadline, delay = time.monotonic() + WRITE_PATIENCE, 0.5
        while True:
            try:
                return action()
            except sa.exc.OperationalError as exc:  # locked, connection lost, server restarting
                db.session.rollback()
                if time.monotonic() > deadline:
                    raise
                log.warning("job %s: could not write log lines (%s); retrying in %.1f s", self.job_id, exc.orig, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def say(self, text: str, failed: bool = False) -> None:
        """Append one line written by the dashboard itself (not by Ansible)."""
        self.write([{"text": text + "\n", "event": "opsdash", "failed": failed}])

    def should_cancel(self) -> bool:
        """True once someone asked the job to stop (read from SQL at most every 0.25 s)."""
        now = time.monotonic()
        if not self._cancel and now - self._last_poll >= CANCEL_POLL_EVERY:
            self._last_poll = now
            self._cancel = _tolerant(lambda: cancel_requested(self.job_id), "read the cancel flag", False)
        return self._cancel

    def beat(self) -> None:
        """Refresh the heartbeat at most every few seconds."""
        now = time.monotonic()
        if now - self._last_beat >= HEARTBEAT_EVERY:
            self._last_beat = now
            _tolerant(lambda: heartbeat(self.job_id), "record the heartbeat", None)


def _insert_lines(rows: list[dict[str, Any]]) -> None:
    """One INSERT of a batch of lines, committed."""
    db.session.execute(sa.insert(JobLine), rows)
    db.session.commit()


def _tolerant(action: Callable[[], T], what: str, fallback: T) -> T:
    """`action()`, or `fallback` when the database is locked or away for a moment (the next call tries again)."""
    try:
        return action()
    except sa.exc.OperationalError as exc:
        db.session.rollback()
        log.warning("could not %s (%s); trying again later", what, exc.orig)
        return fallback


Work = Callable[[Job, JobContext], Outcome]


def run_job(job_id: int, worker: str, work: Work, retry_on: tuple[type[Exception], ...] = ()) -> str:
    """Start the job if it may run, do the work, record the outcome; returns what happened.

    An exception in `retry_on` puts the job back to queued (locks freed) and propagates, so the
    Celery task can schedule its retry."""
    job = db.session.get(Job, job_id)
    if job is None:
        return StartOutcome.MISSING
    started = begin_running(job, worker)
    if started == StartOutcome.WAITING:  # the holder may have finished between our attempt and our commit
        db.session.expire_all()
        started = begin_running(db.session.get_one(Job, job_id), worker)
    if started != StartOutcome.RUNNING:
        return started
    try:
        outcome = _do_work(db.session.get_one(Job, job_id), work, retry_on)
    except retry_on:
        requeue(job_id)
        raise
    finish(job_id, outcome.status, **outcome.values)
    kick_waiting()
    return outcome.status


def _do_work(job: Job, work: Work, retry_on: tuple[type[Exception], ...]) -> Outcome:
    """Call the work function; turn its exceptions into a failed or timed-out outcome with a log line."""
    ctx = JobContext(job.id)
    try:
        return work(job, ctx)
    except retry_on:
        db.session.rollback()
        raise
    except SoftTimeLimitExceeded:
        db.session.rollback()
        ctx.say("The job hit its time limit and was stopped.", failed=True)
        return Outcome(JobStatus.TIMED_OUT, {"error": "time limit reached"})
    except Exception as exc:  # any bug or provider error must end the job, never leave it running
        db.session.rollback()
        current_app.logger.exception("job %s failed", job.id)
        ctx.say("".join(traceback.format_exception_only(exc)).strip(), failed=True)
        return Outcome(JobStatus.FAILED, {"error": f"{type(exc).__name__}: {exc}"[:2000]})


def note_retry(job_id: int, message: str) -> None:
    """Tell the job page a retry is coming (the job may have been deleted meanwhile)."""
    if db.session.get(Job, job_id) is not None:
        JobContext(job_id).say(message, failed=True)
