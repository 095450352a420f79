"""Queue names (defined here once) and which Celery task and queue each job kind goes to."""

from __future__ import annotations

from enum import StrEnum

from app.jobcore.status import JobKind


class QueueName(StrEnum):
    """The Celery queues the project declares."""

    DEFAULT = "default"  # housekeeping: reaper, reconcile's companions, pings, RQ's default queue
    ANSIBLE = "ansible"  # playbook runs (prefork workers near the managed hosts)
    VMS = "vms"  # VM actions (a thread-pool worker; or a hypervisor's own queue)


TASK_FOR_KIND: dict[JobKind, tuple[str, QueueName]] = {
    JobKind.PLAYBOOK: ("app.tasks.ansible.run_playbook", QueueName.ANSIBLE),
    JobKind.VM: ("app.tasks.vms.run_vm_action", QueueName.VMS),
}
