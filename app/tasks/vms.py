"""VM actions and the reconcile sweep, on the `vms` queue (or a provider's own queue)."""

from __future__ import annotations

from celery import Task, shared_task

from app.worker.reconcile import reconcile_all
from app.worker.vm_actions import MAX_RETRIES, RetryLater, run_vm_job


@shared_task(name="app.tasks.vms.run_vm_action", bind=True, max_retries=MAX_RETRIES)
def run_vm_action(self: Task, job_id: int) -> str:
    """Run VM job `job_id`; a transient provider error retries with exponential backoff (3 times)."""
    try:
        return run_vm_job(job_id, self.request.hostname or "worker", attempt=self.request.retries)
    except RetryLater as later:
        raise self.retry(exc=later.cause, countdown=later.countdown) from None


@shared_task(name="app.tasks.vms.reconcile")
def reconcile() -> dict[str, int]:
    """Refresh every VM's state from its provider and record drift."""
    return reconcile_all()
