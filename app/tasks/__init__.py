"""Celery tasks. Thin: they take ids, re-read rows, and call plain modules that do the work."""

from app.tasks import ansible, ops, vms  # noqa: F401  (registers the tasks with Celery)
