"""VM actions and the reconcile sweep, on the `vms` queue (or a provider's own queue)."""

from __future__ import annotations

from functools import partial

from celery import shared_task
from celery.utils.time import get_exponential_backoff_interval

from app.extensions import db
from app.jobs.execution import JobContext, run_job
from app.models import Job
from app.providers.base import TransientProviderError
from app.vms.execute import execute_vm_action
from app.vms.reconcile import reconcile_all

MAX_RETRIES = 3


@shared_task(name="app.tasks.vms.run_vm_action", bind=True, max_retries=MAX_RETRIES)
def run_vm_action(self, job_id: int) -> str:  # type: ignore[no-untyped-def]
    """Run VM job `job_id`; a transient provider error retries with exponential backoff (3 times)."""
    retries = self.request.retries
    last = retries >= MAX_RETRIES
    work = partial(execute_vm_action, retry_transient=not last)
    try:
        return run_job(
            job_id, self.request.hostname or "worker", work, retry_on=() if last else (TransientProviderError,)
        )
    except TransientProviderError as exc:
        countdown = get_exponential_backoff_interval(factor=1, retries=retries, maximum=60, full_jitter=False)
        _note_retry(job_id, retries + 1, countdown, exc)
        raise self.retry(exc=exc, countdown=countdown) from None


def _note_retry(job_id: int, attempt: int, countdown: float, exc: Exception) -> None:
    """Tell the job page a retry is coming."""
    if db.session.get(Job, job_id) is not None:
        JobContext(job_id).say(
            f"transient provider error: {exc}; retry {attempt}/{MAX_RETRIES} in {countdown:.0f} s", failed=True
        )


@shared_task(name="app.tasks.vms.reconcile")
def reconcile() -> dict[str, int]:
    """Refresh every VM's state from its provider and record drift."""
    return reconcile_all()
