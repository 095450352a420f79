"""Creating VMs and submitting VM actions (the VM pages use these; every action is a job)."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.jobcore.status import JobKind, VMState
from app.jobcore.submit import submit
from app.models.audit import Actor
from app.models.job import Job, JobTarget
from app.models.vm import VM
from app.services import Refused

ACTIONS = ("create", "start", "stop", "restart", "delete")
POWER_ACTIONS = ACTIONS[1:]  # the ones offered on an existing VM
# A VM action's time limit (seconds): five minutes, with a short hard margin.
VM_SOFT_LIMIT, VM_HARD_LIMIT = 300, 330


def create_vm(
    name: str,
    provider_id: int,
    vcpus: int,
    memory_mib: int,
    disk_gib: int,
    image: str | None,
    actor: Actor,
    reason: str | None = None,
) -> Job:
    """Record a new VM as 'creating' and queue its create job; Refused when the name is taken there."""
    if db.session.scalar(sa.select(VM).where(VM.provider_id == provider_id, VM.name == name)):
        raise Refused("A VM with that name already exists on that hypervisor.", field="name")
    vm = VM(
        name=name,
        provider_id=provider_id,
        vcpus=vcpus,
        memory_mib=memory_mib,
        disk_gib=disk_gib,
        image=image or None,
        state=VMState.CREATING,
    )
    db.session.add(vm)
    db.session.flush()
    return submit_action(vm, "create", actor, reason)


def check_vm_relaunch(job: Job) -> None:
    """Refused when a VM job cannot sensibly run again: its VM is gone, or a create whose VM now exists."""
    vm = db.session.get(VM, job.params.get("vm_id"))
    if vm is None or vm.target != job.params.get("vm"):
        raise Refused(f"{job.params.get('vm')} is no longer in the dashboard: nothing to {job.params['action']}.")
    if job.params["action"] == "create" and vm.state not in (VMState.ERROR, VMState.MISSING):
        raise Refused(f"{vm.target} exists ({vm.state}): create a VM under another name instead.")


def submit_action(vm: VM, action: str, actor: Actor, reason: str | None = None) -> Job:
    """Record a VM action job, commit it, queue it; the VM remembers it as its last job."""
    if action not in ACTIONS:
        raise Refused(f"“{action}” is not a VM action.")
    job = Job(
        kind=JobKind.VM,
        name=f"{action} {vm.target}",
        created_by_id=actor.id,
        created_by=actor.name,
        soft_time_limit=VM_SOFT_LIMIT,
        time_limit=VM_HARD_LIMIT,
        params={"action": action, "vm_id": vm.id, "vm": vm.target, "queue": vm.provider.queue or None},
    )
    job.targets = [JobTarget(kind="vm", name=vm.target)]
    db.session.add(job)
    db.session.flush()
    vm.last_job_id = job.id
    submit(job, actor, reason=reason)
    return job
