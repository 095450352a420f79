"""Playbook runs on the `ansible` queue."""

from __future__ import annotations

from celery import shared_task

from app.deployments.execute import execute_playbook
from app.jobs.execution import run_job


@shared_task(name="app.tasks.ansible.run_playbook", bind=True)
def run_playbook(self, job_id: int) -> str:  # type: ignore[no-untyped-def]
    """Run playbook job `job_id` (safe to deliver twice: only a queued/waiting job starts)."""
    return run_job(job_id, self.request.hostname or "worker", execute_playbook)
