"""The job core's closed sets: the transition map, typed columns, and VM state changed only by guarded updates."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, StatementError

from app.extensions import db
from app.jobcore.status import TERMINAL, TRANSITIONS, IllegalTransition, JobKind, JobStatus, VMState
from app.jobcore.transitions import transition
from app.models import VM, AuditEvent, Job, JobTarget, Provider

# libvirt's test driver always has one running domain called "test" (and nothing else) in a new connection.
URI = "test:///default"


def add_job(status: JobStatus = JobStatus.QUEUED, vm: str | None = None) -> Job:
    """A job row in `status`, optionally acting on a VM target."""
    job = Job(kind=JobKind.VM, name="x", created_by="t", soft_time_limit=1, time_limit=2, status=status)
    job.targets = [JobTarget(kind="vm", name=vm)] if vm else []
    db.session.add(job)
    db.session.commit()
    return job


def add_vm(name: str, state: VMState) -> VM:
    """A VM row on the 'local' test-driver hypervisor."""
    provider = db.session.scalar(sa.select(Provider).where(Provider.name == "local"))
    if provider is None:
        provider = Provider(name="local", uri=URI)
        db.session.add(provider)
    vm = VM(name=name, provider=provider, vcpus=1, memory_mib=128, disk_gib=1, state=state)
    db.session.add(vm)
    db.session.commit()
    return vm


def test_it_gives_terminal_statuses_no_way_out():
    assert all(TRANSITIONS[status] == frozenset() for status in TERMINAL)
    assert set(TRANSITIONS) == set(JobStatus)


def test_it_refuses_an_edge_the_map_does_not_allow(app):
    with app.app_context():
        job = add_job(JobStatus.SUCCESSFUL)
        with pytest.raises(IllegalTransition, match="from successful to running"):
            transition(job.id, (JobStatus.SUCCESSFUL,), JobStatus.RUNNING)
        with pytest.raises(IllegalTransition, match="from waiting to failed"):
            transition(job.id, (JobStatus.QUEUED, JobStatus.WAITING), JobStatus.FAILED)
        assert db.session.get(Job, job.id).status is JobStatus.SUCCESSFUL


def test_it_reads_statuses_back_as_enum_members_and_refuses_unknown_ones(app):
    with app.app_context():
        job = add_job()
        db.session.expire_all()
        assert db.session.get(Job, job.id).status is JobStatus.QUEUED
        with pytest.raises(StatementError, match="'paused' is not a valid JobStatus"):
            db.session.execute(sa.update(Job).where(Job.id == job.id).values(status="paused"))
        db.session.rollback()


def test_the_database_refuses_an_unknown_vm_state(app):
    with app.app_context():
        vm = add_vm("vm-check", VMState.STOPPED)
        with pytest.raises(IntegrityError):
            db.session.execute(sa.text("UPDATE vms SET state = 'sleeping' WHERE id = :id"), {"id": vm.id})
            db.session.flush()
        db.session.rollback()


def reconcile_here() -> dict[str, int]:
    """Run reconcile in this process (its own test-driver connection holds only the 'test' domain)."""
    from app.worker.reconcile import reconcile_all

    return reconcile_all()


def audit_actions() -> list[tuple[str, str]]:
    """(action, target) of every audit row, oldest first."""
    return [(e.action, e.target) for e in db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))]


def test_reconcile_clears_an_error_once_the_hypervisor_shows_the_vm_healthy(app):
    with app.app_context():
        vm = add_vm("test", VMState.ERROR)
        vm.state_reason = "the last start failed"
        db.session.commit()
        counts = reconcile_here()
        vm = db.session.get(VM, vm.id)
        assert (vm.state, vm.state_reason) == (VMState.RUNNING, None)
        assert counts["recovered"] == 1 and ("vm.recovered", "local/test") in audit_actions()


def test_reconcile_keeps_an_error_while_the_vm_is_still_missing(app):
    with app.app_context():
        vm = add_vm("never-made", VMState.ERROR)
        counts = reconcile_here()
        assert db.session.get(VM, vm.id).state is VMState.ERROR and counts["recovered"] == 0


def test_reconcile_records_drift_and_ends_a_state_left_by_a_job_that_never_finished(app):
    with app.app_context():
        gone = add_vm("gone-behind-our-back", VMState.RUNNING)
        stale = add_vm("test", VMState.DELETING)
        counts = reconcile_here()
        assert db.session.get(VM, gone.id).state is VMState.MISSING
        assert db.session.get(VM, stale.id).state is VMState.RUNNING
        assert "did not finish" in db.session.get(VM, stale.id).state_reason
        assert counts["drifted"] == 2


def test_reconcile_leaves_a_vm_alone_while_a_job_for_it_is_queued(app):
    with app.app_context():
        vm = add_vm("test", VMState.CREATING)
        add_job(JobStatus.QUEUED, vm="local/test")
        counts = reconcile_here()
        assert db.session.get(VM, vm.id).state is VMState.CREATING and counts["checked"] == 0
