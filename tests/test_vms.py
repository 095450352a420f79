"""VM lifecycle through the dashboard, a real VM worker and libvirt's test:///default driver."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import VM, AuditEvent, Job, Provider, TargetLock
from tests.jobs_helpers import job_text, wait_status

pytestmark = pytest.mark.usefixtures("vm_worker")
URI = "test:///default"
_names = iter(range(1, 10_000))


@pytest.fixture
def provider(app) -> int:
    with app.app_context():
        row = Provider(name="local", uri=URI)
        db.session.add(row)
        db.session.commit()
        return row.id


def vm_name(prefix: str = "vm") -> str:
    """A name no earlier test used (the test driver keeps domains for the worker's lifetime)."""
    return f"{prefix}-{next(_names)}"


def libvirt(app, task: str, *args):
    """Run a tests.libvirt task inside the VM worker (where the test driver's state lives)."""
    return app.extensions["celery"].send_task(f"tests.libvirt.{task}", args=[URI, *args], queue="vms").get(timeout=20)


def create_vm(app, auth, provider: int, name: str, **fields) -> Job:
    """Submit the create form and wait for the job to end."""
    data = {"name": name, "provider": str(provider), "vcpus": "2", "memory_mib": "512", "disk_gib": "2", **fields}
    resp = auth.post("/vms/new", data)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return wait_status(app, int(resp.headers["Location"].rsplit("/", 1)[1]))


def vm_row(app, name: str) -> VM | None:
    """The VM row, detached, or None."""
    with app.app_context():
        vm = db.session.scalar(sa.select(VM).where(VM.name == name))
        if vm is not None:
            db.session.expunge(vm)
        return vm


def act(app, auth, name: str, action: str) -> Job:
    """Confirm an action on a VM and wait for its job."""
    vm = vm_row(app, name)
    page = auth.client.get(f"/vms/{vm.id}/{action}").get_data(as_text=True)
    assert f"{action.capitalize()} {name}?" in page
    resp = auth.post(f"/vms/{vm.id}/{action}", {"reason": "test"})
    return wait_status(app, int(resp.headers["Location"].rsplit("/", 1)[1]))


def test_create_logs_every_step_and_ends_running(app, auth, provider):
    auth.login("operator")
    name = vm_name()
    job = create_vm(app, auth, provider, name)
    text = job_text(app, job.id)
    assert job.status == "successful", text
    for step in (
        "selecting storage pool",
        "defining domain",
        f"creating volume {name}-disk0",
        "starting domain",
        "waiting for running state",
    ):
        assert f"▶ {step}" in text and f"✓ {step}" in text
    vm = vm_row(app, name)
    assert vm.state == "running" and vm.last_job_id == job.id
    assert libvirt(app, "states")[name] == 1
    assert f"{name}-disk0" in libvirt(app, "volumes", "default-pool")


def test_create_failure_cleans_up_and_leaves_the_vm_in_error(app, auth, provider):
    auth.login("operator")
    job = create_vm(app, auth, provider, "test")  # the driver's built-in domain is called "test"
    text = job_text(app, job.id)
    assert job.status == "failed"
    assert "✗ defining domain" in text and "cleanup" in text
    vm = vm_row(app, "test")
    assert vm.state == "error" and "defining domain" in vm.state_reason
    assert "test-disk0" not in libvirt(app, "volumes", "default-pool")


def test_delete_logs_every_step_and_removes_the_vm(app, auth, provider):
    auth.login("operator")
    name = vm_name()
    create_vm(app, auth, provider, name)
    job = act(app, auth, name, "delete")
    text = job_text(app, job.id)
    assert job.status == "successful", text
    for step in ("destroying domain", "undefining domain", f"deleting volume {name}-disk0", "checking domain is gone"):
        assert f"✓ {step}" in text
    assert vm_row(app, name) is None
    assert name not in libvirt(app, "states")
    assert f"{name}-disk0" not in libvirt(app, "volumes", "default-pool")


def test_delete_continues_when_the_volume_and_domain_are_already_gone(app, auth, provider):
    auth.login("operator")
    name = vm_name()
    create_vm(app, auth, provider, name)
    libvirt(app, "delete_volume", "default-pool", f"{name}-disk0")
    libvirt(app, "undefine", name)
    job = act(app, auth, name, "delete")
    text = job_text(app, job.id)
    assert job.status == "successful", text
    assert "already absent" in text
    assert vm_row(app, name) is None


def test_start_is_idempotent_and_stop_start_restart_work(app, auth, provider):
    auth.login("operator")
    name = vm_name()
    create_vm(app, auth, provider, name)
    job = act(app, auth, name, "start")
    assert job.status == "successful" and "already running" in job_text(app, job.id)
    assert act(app, auth, name, "stop").status == "successful"
    assert vm_row(app, name).state == "stopped" and libvirt(app, "states")[name] == 5
    again = act(app, auth, name, "stop")
    assert again.status == "successful" and "already stopped" in job_text(app, again.id)
    assert act(app, auth, name, "start").status == "successful"
    assert vm_row(app, name).state == "running"
    restart = act(app, auth, name, "restart")
    assert restart.status == "successful" and "✓ rebooting domain" in job_text(app, restart.id)


def test_reconcile_notices_a_change_made_behind_the_dashboards_back(app, auth, provider):
    auth.login("operator")
    name = vm_name()
    create_vm(app, auth, provider, name)
    libvirt(app, "destroy", name)
    counts = app.extensions["celery"].send_task("app.tasks.vms.reconcile", queue="vms").get(timeout=20)
    assert counts["drifted"] >= 1
    vm = vm_row(app, name)
    assert vm.state == "stopped" and vm.state_reason == "changed outside the dashboard: was running, found stopped"
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "vm.drift"))
        assert (event.target, event.actor, event.detail) == (
            f"local/{name}",
            "reconcile",
            {"was": "running", "now": "stopped"},
        )


def test_transient_errors_are_retried_three_times_then_the_job_fails(app, auth):
    with app.app_context():
        row = Provider(name="gone", uri="qemu+unix:///system?socket=/nonexistent/libvirt-sock")
        db.session.add(row)
        db.session.commit()
        provider_id = row.id
    auth.login("operator")
    job = create_vm(app, auth, provider_id, vm_name())
    text = job_text(app, job.id)
    assert job.status == "failed"
    assert [int(n) for n in re.findall(r"retry (\d)/3", text)] == [1, 2, 3]
    assert vm_row(app, job.params["vm"].split("/")[1]).state == "error"


def test_a_second_action_waits_for_the_first(app, auth, provider):
    from app.jobcore.submit import kick_waiting
    from app.jobcore.transitions import finish

    auth.login("operator")
    name = vm_name()
    create_vm(app, auth, provider, name)
    with app.app_context():  # another job holds the VM, as a long action would
        holder = Job(kind="vm", name="hold", created_by="t", soft_time_limit=60, time_limit=90, status="running")
        db.session.add(holder)
        db.session.flush()
        db.session.add(TargetLock(key=f"vm:local/{name}", job_id=holder.id))
        db.session.commit()
        holder_id = holder.id
    vm = vm_row(app, name)
    resp = auth.post(f"/vms/{vm.id}/restart")
    job_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    waiting = wait_status(app, job_id, ("waiting",))
    assert waiting.waiting_for == f"local/{name} (held by job #{holder_id})"
    assert f"Waiting for local/{name} (held by job #{holder_id})" in auth.client.get(f"/jobs/{job_id}").get_data(
        as_text=True
    )
    with app.app_context():
        finish(holder_id, "successful")
        kick_waiting()
    assert wait_status(app, job_id).status == "successful"


def test_the_create_form_validates_names_sizes_and_uniqueness(app, auth, provider):
    auth.login("operator")
    bad = auth.post(
        "/vms/new", {"name": "Bad_Name", "provider": str(provider), "vcpus": "0", "memory_mib": "64", "disk_gib": "1"}
    )
    page = bad.get_data(as_text=True)
    assert bad.status_code == 400
    assert "lowercase letters, digits and &#39;-&#39;" in page
    assert "Number must be between 1 and 64." in page and "Number must be between 128 and 262144." in page
    name = vm_name()
    create_vm(app, auth, provider, name)
    dup = auth.post(
        "/vms/new", {"name": name, "provider": str(provider), "vcpus": "1", "memory_mib": "256", "disk_gib": "1"}
    )
    assert dup.status_code == 400 and "already exists on that hypervisor" in dup.get_data(as_text=True)


def test_the_list_refreshes_only_while_something_changes(app, auth, provider):
    auth.login("viewer")
    with app.app_context():
        db.session.add(VM(name="steady", provider_id=provider, vcpus=1, memory_mib=256, disk_gib=1, state="running"))
        db.session.commit()
    page = auth.client.get("/vms").get_data(as_text=True)
    assert "steady" in page and "vm-running" in page and 'hx-trigger="every 2s"' not in page
    resp = auth.client.get("/vms?fragment=rows", headers={"HX-Request": "true"})
    assert resp.status_code == 286
    with app.app_context():
        db.session.add(VM(name="newborn", provider_id=provider, vcpus=1, memory_mib=256, disk_gib=1, state="creating"))
        db.session.commit()
    resp = auth.client.get("/vms?fragment=rows", headers={"HX-Request": "true"})
    assert resp.status_code == 200 and "newborn" in resp.get_data(as_text=True)


def test_viewers_cannot_act_on_vms(app, auth, provider):
    with app.app_context():
        vm = VM(name="keep", provider_id=provider, vcpus=1, memory_mib=256, disk_gib=1, state="running")
        db.session.add(vm)
        db.session.commit()
        vm_id = vm.id
    auth.login("viewer")
    assert auth.client.get(f"/vms/{vm_id}").status_code == 200
    assert auth.post(f"/vms/{vm_id}/delete").status_code == 403
    assert auth.client.get("/vms/new").status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def test_a_job_never_acts_on_a_vm_replaced_behind_the_dashboards_back(app, auth, provider):
    auth.login("operator")
    name = vm_name()
    create_vm(app, auth, provider, name)
    recorded = vm_row(app, name).uuid
    assert recorded and libvirt(app, "replace", name) != recorded
    job = act(app, auth, name, "stop")
    assert job.status == "failed" and "not the VM this dashboard made" in job_text(app, job.id)
    assert libvirt(app, "states")[name] == 1  # the other VM still runs


def test_relaunching_a_delete_never_touches_the_vm_that_took_its_id_or_name(app, auth, provider):
    auth.login("operator")
    first = vm_name()
    create_vm(app, auth, provider, first)
    first_id = vm_row(app, first).id
    delete = act(app, auth, first, "delete")
    second = vm_name()
    create_vm(app, auth, provider, second)
    assert vm_row(app, second).id > first_id  # ids are never handed out again
    page = auth.post(f"/jobs/{delete.id}/relaunch", follow_redirects=True).get_data(as_text=True)
    assert f"local/{first} is no longer in the dashboard: nothing to delete." in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.max(Job.id))) == vm_row(app, second).last_job_id
    assert vm_row(app, second).state == "running"


def test_relaunching_the_create_of_a_vm_that_exists_is_refused(app, auth, provider):
    auth.login("operator")
    name = vm_name()
    job = create_vm(app, auth, provider, name)
    page = auth.post(f"/jobs/{job.id}/relaunch", follow_redirects=True).get_data(as_text=True)
    assert f"local/{name} exists (running): create a VM under another name instead." in page
    assert vm_row(app, name).state == "running" and vm_row(app, name).last_job_id == job.id
