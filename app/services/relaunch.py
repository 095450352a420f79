"""Whether a job may run again (relaunch, retry failed hosts) on behalf of someone."""

from __future__ import annotations

from app.ansible.variables import connection_vars, refusal
from app.jobcore.status import JobKind
from app.models.job import Job
from app.services import Refused
from app.services.vms import check_vm_relaunch


def check_relaunch(job: Job, admin: bool) -> None:
    """Refused when the job carries connection settings a non-admin may not pass, or its VM no longer fits."""
    refused = [] if admin else connection_vars(job.params.get("extra_vars") or {})
    if refused:
        raise Refused(refusal(refused, f"Job #{job.id}'s extra vars"))
    if job.kind == JobKind.VM:
        check_vm_relaunch(job)
