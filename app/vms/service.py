"""Submitting VM action jobs (web side)."""

from __future__ import annotations

from flask import current_app
from flask_login import current_user

from app.extensions import db
from app.jobs.service import submit
from app.models import VM, Job
from app.models.job import JobTarget

ACTIONS = ("create", "start", "stop", "restart", "delete")
# A VM action's time limit (seconds): the seed's five minutes, with a short hard margin.
VM_SOFT_LIMIT, VM_HARD_LIMIT = 300, 330


def submit_action(vm: VM, action: str, reason: str | None = None) -> Job:
    """Record a VM action job, commit it, queue it; the VM remembers it as its last job."""
    job = Job(
        kind="vm",
        name=f"{action} {vm.target}",
        created_by_id=current_user.id,
        created_by=current_user.username,
        soft_time_limit=VM_SOFT_LIMIT,
        time_limit=VM_HARD_LIMIT,
        params={"action": action, "vm_id": vm.id, "vm": vm.target, "queue": vm.provider.queue or None},
    )
    job.targets = [JobTarget(kind="vm", name=vm.target)]
    db.session.add(job)
    db.session.flush()
    vm.last_job_id = job.id
    if action == "delete" and vm.state == "error":
        vm.state_reason = None
    submit(job, reason=reason)
    current_app.logger.info("queued %s as job %s", job.name, job.id)
    return job
