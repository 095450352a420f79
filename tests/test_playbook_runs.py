"""Playbook runs end to end: form → SQL → broker → real worker → ansible-runner → SQL → pages."""

from __future__ import annotations

import psutil
import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import AuditEvent, JobTarget, TargetLock
from tests.jobs_helpers import add_hosts, job_row, job_text, latest_job_id, run_form, wait_status
from tests.services import wait_for

pytestmark = pytest.mark.usefixtures("worker")


def submit(auth, **fields) -> int:
    """POST the run form as an operator; return the new job's id (we land on its page at once)."""
    resp = auth.post("/run", run_form(**fields))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.headers["Location"].rsplit("/", 1)[1])


@pytest.fixture
def gate(tmp_path):
    """A file path for tests/gate.yml: a run holds until the test creates it (and is let go at teardown)."""
    path = tmp_path / "gate"
    yield path
    path.touch()


def task_completed(app, job_id: int, task: str) -> list[str]:
    """Hosts on which `task` ran to its end (runner_on_ok), from the job's stored lines."""
    from app.models import JobLine

    with app.app_context():
        query = sa.select(JobLine.host).where(
            JobLine.job_id == job_id, JobLine.task == task, JobLine.event == "runner_on_ok"
        )
        return list(db.session.scalars(query))


def task_returned(worker_log: str, app, job_id: int) -> bool:
    """True once the worker has returned from the Celery task last sent for the job (its log says so)."""
    from pathlib import Path

    task_id = job_row(app, job_id).task_id
    return bool(task_id) and f"[{task_id}] succeeded" in Path(worker_log).read_text(errors="replace")


def test_it_runs_a_playbook_and_records_per_host_stats(app, client, auth):
    add_hosts(app, "web-01")
    auth.login("operator")
    job_id = submit(auth, hosts=["web-01"], extra_vars='{"message": "hi there"}')
    job = wait_status(app, job_id)
    assert job.status == "successful" and job.rc == 0, job_text(app, job_id)
    (result,) = job.host_results
    assert (result.host, result.ok, result.changed, result.failed) == ("web-01", 2, 1, 0)
    assert '"msg": "hi there"' in job_text(app, job_id)
    page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "successful" in page and "hi there" in page and "web-01" in page
    with app.app_context():
        assert db.session.scalar(sa.select(AuditEvent.action).order_by(AuditEvent.id.desc())) == "job.submit"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(TargetLock)) == 0


def test_it_marks_a_failing_task_failed_and_names_the_hosts(app, auth):
    add_hosts(app, "ok-1", "bad-1", group="mixed")
    auth.login("operator")
    job_id = submit(auth, playbook="tests/fail_on.yml", target="group", group="mixed", extra_vars="fail_hosts: [bad-1]")
    job = wait_status(app, job_id)
    assert job.status == "failed" and job.rc != 0
    assert job.error == "Failed on: bad-1"
    counts = {r.host: (r.ok, r.failed) for r in job.host_results}
    assert counts == {"bad-1": (0, 1), "ok-1": (1, 0)}
    assert "failing on purpose on bad-1" in job_text(app, job_id)


def test_it_reports_an_unreachable_host(app, auth):
    from app.models import Host

    with app.app_context():
        db.session.add(
            Host(
                name="ghost",
                address="127.0.0.1",
                port=1,
                user="nobody",
                variables={"ansible_ssh_common_args": "-o ConnectTimeout=3"},
            )
        )
        db.session.commit()
    auth.login("operator")
    job = wait_status(app, submit(auth, playbook="ping.yml", hosts=["ghost"]))
    assert job.status == "failed"
    assert [(r.host, r.unreachable) for r in job.host_results] == [("ghost", 1)]


def test_it_runs_a_group_on_every_host_at_the_same_time(app, auth, tmp_path):
    add_hosts(app, "g-1", "g-2", "g-3", group="web")
    auth.login("operator")
    checkins = tmp_path / "checkins"
    checkins.mkdir()
    job_id = submit(auth, playbook="tests/rendezvous.yml", target="group", group="web", extra_vars=f"dir: {checkins}")
    # each host's task waits, inside that one task, until all three have checked in: it can only succeed
    # if the three ran it at the same time (one after another, the first host gives up after 120 s)
    job = wait_status(app, job_id, timeout=240)
    assert job.status == "successful", job_text(app, job_id)
    assert sorted(p.name for p in checkins.iterdir()) == ["g-1", "g-2", "g-3"]
    assert sorted(task_completed(app, job_id, "Check in and wait for the others")) == ["g-1", "g-2", "g-3"]
    assert sorted(r.host for r in job.host_results) == ["g-1", "g-2", "g-3"]
    # the speed-up itself (three hosts vs one) is measured by bench/bench_ansible_runs.py
    with app.app_context():
        kinds = {(t.kind, t.name) for t in db.session.scalars(sa.select(JobTarget).where(JobTarget.job_id == job_id))}
    assert ("group", "web") in kinds and ("host", "g-2") in kinds


def test_it_refuses_bad_extra_vars_with_the_line(app, auth):
    add_hosts(app, "web-01")
    auth.login("operator")
    resp = auth.post("/run", run_form(hosts=["web-01"], extra_vars="a: 1\nb: [unclosed\n"))
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Extra vars: invalid YAML/JSON on line 3" in page
    resp = auth.post("/run", run_form(hosts=["web-01"], extra_vars="[1, 2]"))
    assert resp.status_code == 400 and "must be a mapping" in resp.get_data(as_text=True)
    assert latest_job_id(app) is None


@pytest.fixture
def escaping_link(service_env, tmp_path):
    """A symlink inside the catalogue that points at a playbook outside it."""
    from pathlib import Path

    outside = tmp_path / "outside.yml"
    outside.write_text("- hosts: all\n  tasks: []\n")
    link = Path(service_env["PLAYBOOKS_DIR"]) / "escape.yml"
    link.symlink_to(outside)
    yield link.name
    link.unlink()


@pytest.mark.parametrize("name", ["../etc/passwd", "/etc/passwd", "tests/../../x.yml", "escape.yml"])
def test_it_refuses_playbooks_outside_the_catalogue(app, client, auth, escaping_link, name):
    add_hosts(app, "web-01")
    auth.login("operator")
    resp = auth.post("/run", run_form(playbook=name, hosts=["web-01"]))
    assert resp.status_code == 400 and "Not a valid choice" in resp.get_data(as_text=True)
    assert latest_job_id(app) is None
    assert "escape.yml" not in client.get("/playbooks").get_data(as_text=True)


def test_it_explains_why_a_symlink_out_is_refused(client, auth, escaping_link):
    auth.login("viewer")
    resp = client.get(f"/playbooks/{escaping_link}")
    assert resp.status_code == 404
    assert "points outside the playbooks folder" in resp.get_data(as_text=True)


def test_it_shows_a_playbook_escaped_with_its_runs(app, client, auth):
    auth.login("viewer")
    page = client.get("/playbooks/tests/echo.yml").get_data(as_text=True)
    assert "{{ message | default(&#39;hello from opsdash&#39;) }}" in page
    assert "Not run yet." in page


def test_it_relaunches_with_the_same_parameters(app, client, auth):
    add_hosts(app, "web-01")
    auth.login("operator")
    first = wait_status(app, submit(auth, hosts=["web-01"], extra_vars="message: again"))
    resp = auth.post(f"/jobs/{first.id}/relaunch")
    second_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    second = wait_status(app, second_id)
    assert second.status == "successful" and second.relaunch_of_id == first.id
    assert second.params == first.params
    assert '"msg": "again"' in job_text(app, second_id)


def test_it_retries_only_the_failed_hosts(app, client, auth):
    add_hosts(app, "r-ok", "r-bad", group="retry")
    auth.login("operator")
    first = wait_status(
        app, submit(auth, playbook="tests/fail_on.yml", target="group", group="retry", extra_vars="fail_hosts: [r-bad]")
    )
    assert first.status == "failed"
    resp = auth.post(f"/jobs/{first.id}/retry-failed")
    retry = wait_status(app, int(resp.headers["Location"].rsplit("/", 1)[1]))
    assert retry.params["limit"] == "r-bad"
    assert [r.host for r in retry.host_results] == ["r-bad"]


def test_it_keeps_viewers_from_running_canceling_relaunching_or_retrying(app, client, auth, gate):
    add_hosts(app, "ok-1", "bad-1", group="mixed")
    auth.login("operator")
    failed = wait_status(
        app, submit(auth, playbook="tests/fail_on.yml", target="group", group="mixed", extra_vars="fail_hosts: [bad-1]")
    )
    assert failed.status == "failed"  # so retry-failed would have something to retry
    running = submit(auth, playbook="tests/gate.yml", hosts=["ok-1"], extra_vars=f"gate: {gate}")
    wait_status(app, running, ("running",))
    assert auth.post("/logout").status_code == 302
    auth.login("viewer")
    assert client.get("/run").status_code == 403
    assert auth.post("/run", run_form(hosts=["ok-1"])).status_code == 403
    assert auth.post(f"/jobs/{running}/cancel").status_code == 403
    assert auth.post(f"/jobs/{failed.id}/relaunch").status_code == 403
    assert auth.post(f"/jobs/{failed.id}/retry-failed").status_code == 403
    assert latest_job_id(app) == running  # no job was made
    job = job_row(app, running)
    assert (job.status, job.cancel_requested, job.canceled_by) == ("running", False, None)
    gate.touch()
    assert wait_status(app, running).status == "successful"  # nothing stopped it


def test_it_cancels_a_running_job_leaving_no_process(app, client, auth):
    add_hosts(app, "web-01")
    auth.login("operator")
    job_id = submit(auth, playbook="tests/sleep.yml", hosts=["web-01"], extra_vars="seconds: 347.123")
    wait_for(lambda: "TASK [Sleep a while]" in job_text(app, job_id), timeout=60, message="the sleep task")
    wait_for(lambda: _sleepers("347.123"), timeout=60, message="the sleep process")
    assert auth.post(f"/jobs/{job_id}/cancel").status_code == 302
    job = wait_status(app, job_id, timeout=120)
    assert job.status == "canceled" and job.canceled_by == "oper"
    assert task_completed(app, job_id, "Sleep a while") == []  # stopped mid-sleep, not run to its end
    wait_for(lambda: not _sleepers("347.123"), timeout=60, message="no sleep process left")
    left = [
        " ".join(p.info["cmdline"])
        for p in psutil.process_iter(["cmdline", "status"])
        if p.info["status"] != "zombie"
        and "ansible-playbook" in " ".join(p.info["cmdline"] or [])
        and f"opsdash-job-{job_id}-" in " ".join(p.info["cmdline"] or [])
    ]
    assert not left, left


def _sleepers(marker: str) -> list[psutil.Process]:
    """Live `sleep <marker>` processes."""
    found = []
    for p in psutil.process_iter(["cmdline", "status"]):
        if p.info["cmdline"] and p.info["cmdline"][:2] == ["sleep", marker] and p.info["status"] != "zombie":
            found.append(p)
    return found


def test_it_cancels_a_queued_job_so_it_never_starts(app, client, auth, gate, worker):
    add_hosts(app, "web-01")
    auth.login("operator")
    blocker = submit(auth, playbook="tests/gate.yml", hosts=["web-01"], extra_vars=f"gate: {gate}")
    wait_status(app, blocker, ("running",))
    waiting = submit(auth, hosts=["web-01"])
    job = wait_status(app, waiting, ("waiting",))
    assert job.waiting_for == f"web-01 (held by job #{blocker})"
    page = client.get(f"/jobs/{waiting}").get_data(as_text=True)
    assert f"Waiting for web-01 (held by job #{blocker})" in page
    auth.post(f"/jobs/{waiting}/cancel")
    assert job_row(app, waiting).status == "canceled"
    gate.touch()
    assert wait_status(app, blocker).status == "successful"
    # the blocker's task re-queues waiting jobs as it ends; once it has returned, and the worker is done
    # with whatever task was last sent for the canceled job, that job would have started if it could
    wait_for(lambda: task_returned(worker, app, blocker), timeout=60, message="the blocker's task to return")
    wait_for(lambda: task_returned(worker, app, waiting), timeout=60, message="the canceled job's last task")
    assert job_row(app, waiting).started_at is None
    assert job_text(app, waiting) == ""


def test_it_serialises_two_runs_on_one_host(app, auth, gate):
    add_hosts(app, "web-01")
    auth.login("operator")
    first = submit(auth, playbook="tests/gate.yml", hosts=["web-01"], extra_vars=f"gate: {gate}")
    wait_status(app, first, ("running",))
    second = submit(auth, hosts=["web-01"])
    assert wait_status(app, second, ("waiting", "running", "successful")).status == "waiting"
    assert job_row(app, first).status == "running"  # held at the gate: the second is waiting for it
    gate.touch()
    a, b = wait_status(app, first), wait_status(app, second)
    assert a.status == b.status == "successful"
    assert b.started_at >= a.finished_at


def test_it_lets_a_run_share_a_held_host_when_asked_and_finish_inside_the_other(app, auth, gate):
    add_hosts(app, "web-01")
    auth.login("operator")
    first = submit(auth, playbook="tests/gate.yml", hosts=["web-01"], extra_vars=f"gate: {gate}")
    wait_status(app, first, ("running",))
    second = wait_status(app, submit(auth, hosts=["web-01"], allow_concurrent="y"))
    assert second.status == "successful" and second.waiting_for is None
    assert job_row(app, first).status == "running"  # held at the gate the whole time
    gate.touch()
    a = wait_status(app, first)
    assert a.status == "successful"
    assert a.started_at <= second.started_at and second.finished_at <= a.finished_at


def test_it_marks_a_job_failed_to_queue_when_the_broker_is_down(app, users):
    from app import create_app
    from tests.conftest import Auth
    from tests.services import free_port

    down = create_app({"TESTING": True, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    add_hosts(app, "web-01")
    auth = Auth(down.test_client())
    auth.login("operator")
    resp = auth.post("/run", run_form(hosts=["web-01"]))
    assert resp.status_code == 302
    page = auth.client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "could not be queued" in page and "the broker did not answer" in page
    job = job_row(app, latest_job_id(app))
    assert job.status == "failed" and job.error.startswith("Could not queue the job")
    assert job.params["playbook"] == "tests/echo.yml"  # the record is kept
