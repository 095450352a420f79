"""Nothing stays running forever: a killed worker's job stops, is marked lost and frees its host."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
from pathlib import Path

import psutil
import sqlalchemy as sa

from app.extensions import db
from app.jobcore.submit import submit
from app.models import Job, JobTarget, TargetLock
from app.models.audit import Actor
from app.tasks.ops import reap
from app.worker.playbooks import WORK_DIR_PREFIX
from tests.jobs_helpers import add_hosts, job_row, job_text, wait_status
from tests.services import start_worker, stop_process, wait_for


def queue_sleep_job(app, host: str, queue: str | None, seconds: str) -> int:
    """Submit a sleep playbook job on `host`, optionally to a dedicated queue."""
    with app.app_context():
        job = Job(
            kind="playbook",
            name="tests/sleep.yml",
            created_by="oper",
            soft_time_limit=300,
            time_limit=360,
            params={
                "playbook": "tests/sleep.yml",
                "extra_vars": {"seconds": seconds},
                **({"queue": queue} if queue else {}),
            },
        )
        job.targets = [JobTarget(kind="host", name=host)]
        submit(job, Actor("oper"))
        return job.id


def job_processes(job_id: int) -> list[psutil.Process]:
    """Live processes of the job: every one carries its work dir in its command line or environment."""
    marker = f"{WORK_DIR_PREFIX}{job_id}-"
    found = []
    for proc in psutil.process_iter():
        try:
            mentions = any(marker in arg for arg in proc.cmdline()) or any(
                marker in value for value in proc.environ().values()
            )
            if mentions and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            pass
    return found


def running_sleep(job_id: int, seconds: str) -> list[psutil.Process]:
    """The job's processes once its `sleep` runs (an empty list before)."""
    procs = job_processes(job_id)
    return procs if any(p.cmdline()[:2] == ["sleep", seconds] for p in procs) else []


def unique_seconds() -> str:
    """A sleep that outlives every wait in these tests (only a kill ends it) and names its job's process."""
    return f"600.{random.randint(100000, 999999)}"


def start_doomed(app, service_env, log: Path) -> subprocess.Popen:
    """A one-process worker on the `doomed` queue, answering ping (so a loaded machine's slow start is not
    counted against the waits that follow)."""
    proc = start_worker(service_env, log, queues="doomed", concurrency=1, name="doomed")
    control = app.extensions["celery"].control
    node = [f"doomed@{socket.gethostname()}"]
    wait_for(
        lambda: proc.poll() is not None or control.inspect(destination=node, timeout=0.5).ping(),
        timeout=90,
        message="the doomed worker to answer ping",
    )
    assert proc.poll() is None, log.read_text()
    return proc


def wait_for_sleep(app, job_id: int, seconds: str, log: Path) -> list[psutil.Process]:
    """Wait until the job's `sleep` runs; on a timeout say where the job is (row, worker log, waiting queries)."""
    try:
        return wait_for(lambda: running_sleep(job_id, seconds), timeout=300, message="the job's sleep to run")
    except AssertionError as exc:
        job = job_row(app, job_id)
        with app.app_context():
            blocked = (
                db.session.execute(
                    sa.text("SELECT pid, state, wait_event_type, query FROM pg_stat_activity WHERE state <> 'idle'")
                ).all()
                if db.engine.dialect.name == "postgresql"
                else []
            )
        raise AssertionError(
            f"{exc}: job {job.status} on {job.worker} waiting_for={job.waiting_for}; busy sessions {blocked}; "
            f"job log: {job_text(app, job_id)[-2000:]}; worker log tail: {log.read_text()[-1500:]}"
        ) from None


def lock_count(app) -> int:
    """How many host locks are held."""
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(TargetLock))


def test_a_killed_workers_job_leaves_no_process_is_marked_lost_and_frees_its_host(app, worker, service_env, tmp_path):
    add_hosts(app, "web-01")
    doomed = start_doomed(app, service_env, tmp_path / "doomed.log")
    try:
        seconds = unique_seconds()
        lost_id = queue_sleep_job(app, "web-01", "doomed", seconds)
        procs = wait_for_sleep(app, lost_id, seconds, tmp_path / "doomed.log")
        assert any("ansible-playbook" in " ".join(p.cmdline()) for p in procs)
        waiting_id = queue_sleep_job(app, "web-01", None, "0")
        assert wait_status(app, waiting_id, ("waiting",)).waiting_for == f"web-01 (held by job #{lost_id})"
        os.killpg(doomed.pid, signal.SIGKILL)  # the worker and its pool die without a word
        doomed.wait(timeout=10)
        # nobody here touches the job's processes: they must go by themselves, with their worker
        wait_for(lambda: not job_processes(lost_id), timeout=60, message="every process of the job to end")
        with app.app_context():
            assert reap.run(stale_after=3600)["lost"] == []  # a fresh heartbeat is not stale
            found = wait_for(lambda: reap.run(stale_after=1)["lost"], timeout=30, message="the reaper")
        assert found == [lost_id]
        job = job_row(app, lost_id)
        assert job.status == "lost" and "No heartbeat from the worker" in job.error
        assert wait_status(app, waiting_id).status == "successful"
        assert lock_count(app) == 0
    finally:
        stop_process(doomed)


def test_a_starting_worker_stops_what_a_job_left_when_its_guard_died_too(app, worker, service_env, tmp_path):
    add_hosts(app, "web-02")
    log = tmp_path / "doomed.log"
    doomed = start_doomed(app, service_env, log)
    try:
        seconds = unique_seconds()
        job_id = queue_sleep_job(app, "web-02", "doomed", seconds)
        wait_for_sleep(app, job_id, seconds, log)
        _kill_with_its_guard(doomed, job_id)
        assert running_sleep(job_id, seconds)  # with no guard left, the job's processes run on
        work_dirs = list(Path(service_env["JOB_WORK_DIR"]).glob(f"{WORK_DIR_PREFIX}{job_id}-*"))
        assert work_dirs
        doomed = start_doomed(app, service_env, log)  # same machine
        wait_for(
            lambda: not job_processes(job_id) and not any(path.exists() for path in work_dirs),
            timeout=60,
            message="the new worker to stop the job's processes and remove its work dir",
        )
        with app.app_context():
            assert wait_for(lambda: reap.run(stale_after=1)["lost"], timeout=30, message="the reaper") == [job_id]
        assert lock_count(app) == 0
    finally:
        stop_process(doomed)


def _kill_with_its_guard(worker: subprocess.Popen, job_id: int) -> None:
    """SIGKILL the worker and the job's guard together, as the OOM killer or a power cut would."""
    guard = [p for p in job_processes(job_id) if any(arg.endswith("guard.py") for arg in p.cmdline())]
    assert len(guard) == 1
    os.killpg(worker.pid, signal.SIGSTOP)  # frozen, the worker cannot notice its guard's death first
    guard[0].kill()  # no wait: its frozen parent cannot reap it, so it stays a zombie until the worker dies
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)


def test_a_late_worker_cannot_overwrite_a_final_status(app):
    from app.jobcore.transitions import finish, request_cancel, transition

    with app.app_context():
        job = Job(kind="playbook", name="x", created_by="t", soft_time_limit=1, time_limit=2, status="running")
        db.session.add(job)
        db.session.commit()
        assert request_cancel(job.id, "oper") == "stopping"
        assert transition(job.id, ("running",), "lost")
        db.session.commit()
        assert finish(job.id, "successful") is False
        assert db.session.get(Job, job.id).status == "lost"
        assert request_cancel(job.id, "oper") is None


def test_a_run_that_hits_its_soft_limit_is_stopped_and_marked_timed_out(app, worker):
    add_hosts(app, "slow-01")
    with app.app_context():
        job = Job(
            kind="playbook",
            name="tests/sleep.yml",
            created_by="oper",
            soft_time_limit=3,
            time_limit=70,
            params={"playbook": "tests/sleep.yml", "extra_vars": {"seconds": "39.871"}},
        )
        job.targets = [JobTarget(kind="host", name="slow-01")]
        submit(job, Actor("oper"))
        job_id = job.id
    job = wait_status(app, job_id, timeout=30)
    assert job.status == "timed_out" and job.error == "Stopped at its time limit of 1 min"
    assert (job.finished_at - job.started_at).total_seconds() < 15
    wait_for(
        lambda: (
            not [p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [])[:2] == ["sleep", "39.871"]]
        ),
        timeout=5,
        message="no sleep left behind",
    )
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TargetLock)) == 0
