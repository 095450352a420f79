"""Playbook runs on the `ansible` queue."""

from __future__ import annotations

from celery import Task, shared_task

from app.worker.playbooks import execute_playbook
from app.worker.runtime import run_job


@shared_task(name="app.tasks.ansible.run_playbook", bind=True)
def run_playbook(self: Task, job_id: int) -> str:
    """Run playbook job `job_id` (safe to deliver twice: only a queued/waiting job starts)."""
    return run_job(job_id, self.request.hostname or "worker", execute_playbook)
