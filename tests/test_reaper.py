"""Nothing stays running forever: a killed worker's job is marked lost and frees its host."""

from __future__ import annotations

import os
import signal

import psutil
import sqlalchemy as sa

from app.extensions import db
from app.jobcore.submit import submit
from app.models import Job, JobTarget, TargetLock
from app.models.audit import Actor
from app.tasks.ops import reap
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


def test_a_killed_workers_job_is_marked_lost_and_frees_its_host(app, worker, service_env, tmp_path):
    add_hosts(app, "web-01")
    doomed = start_worker(service_env, tmp_path / "doomed.log", queues="doomed", concurrency=1, name="doomed")
    try:
        lost_id = queue_sleep_job(app, "web-01", "doomed", "58.321")
        wait_for(lambda: "TASK [Sleep a while]" in job_text(app, lost_id), timeout=60, message="the job to run")
        waiting_id = queue_sleep_job(app, "web-01", None, "0")
        assert wait_status(app, waiting_id, ("waiting",)).waiting_for == f"web-01 (held by job #{lost_id})"
        os.killpg(doomed.pid, signal.SIGKILL)  # the worker and its pool die without a word
        doomed.wait(timeout=10)
        _kill_leftover_sleeps("58.321")  # Ansible's detached workers would otherwise run on
        with app.app_context():
            assert reap.run(stale_after=3600)["lost"] == []  # a fresh heartbeat is not stale
            found = wait_for(lambda: reap.run(stale_after=1)["lost"], timeout=15, message="the reaper")
        assert found == [lost_id]
        job = job_row(app, lost_id)
        assert job.status == "lost" and "No heartbeat from the worker" in job.error
        assert wait_status(app, waiting_id).status == "successful"
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count()).select_from(TargetLock)) == 0
    finally:
        stop_process(doomed)


def _kill_leftover_sleeps(marker: str) -> None:
    """Kill `sleep <marker>` processes (left by the killed worker's Ansible)."""
    for p in psutil.process_iter(["cmdline"]):
        if (p.info["cmdline"] or [])[:2] == ["sleep", marker]:
            p.kill()


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
