"""How the project's Celery workers run RQ jobs under the jobs' own task names; init_app() wires it in.

A job is published as a Celery task named after its function (`tests.rq_jobs.add`), so Flower, events and logs
show that name. No such task is registered anywhere: the adapter makes a runner task on first sight of such a
name. Runner requests are JobRequests, which queue `finish_killed` when the prefork pool killed a job (stop,
hard time limit, lost child), so its outcome is recorded.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

from celery.exceptions import NotRegistered
from redis import Redis

from app.tasks.rq_compat import celery_adapter, execution, state
from app.tasks.rq_compat.dispatch import FALLBACK_TASK_NAME, FRONT_PRIORITY, PACKAGE, is_job_task_name
from app.tasks.rq_compat.job import Job

if TYPE_CHECKING:
    from celery import Celery, Task

log = logging.getLogger(__name__)
FINISH_KILLED = f"{PACKAGE}.finish_killed"
_connections: dict[tuple[int, str], Redis] = {}


def init_app(celery_app: Celery, redis_url: str) -> None:
    """Let `celery_app` publish RQ jobs recorded in `redis_url`, and its workers run them under their names."""
    state.bind(celery_app, redis_url)
    celery_adapter.install_task_factory(celery_app, is_job_task_name, make_runner)
    celery_app.task(name=FINISH_KILLED, bind=True, shared=False, ignore_result=True)(finish_killed)
    celery_app.task(name=FALLBACK_TASK_NAME, bind=True, shared=False, ignore_result=True, Request=JobRequest)(
        run_job_message
    )


def make_runner(celery_app: Celery, name: str) -> Task:
    """The runner task for jobs whose function is called `name`."""
    return celery_adapter.make_task(celery_app, name, run_job_message, JobRequest)


def worker_connection(celery_app: Celery) -> Redis:
    """The Redis holding the job records this app's workers run (one client per process)."""
    url = state.redis_url_of(celery_app)
    key = (os.getpid(), url)
    if key not in _connections:
        _connections[key] = Redis.from_url(url)
    return _connections[key]


def run_job_message(task: Task, *args: Any, **kwargs: Any) -> Any:
    """Body of every runner task: run the RQ job the message names."""
    if len(args) != 1 or kwargs or not isinstance(args[0], str):  # not one of our messages
        raise NotRegistered(f"{task.name} is neither a registered task nor an RQ job message")
    job_id, request = args[0], task.request
    limits = tuple(request.timelimit) if request.timelimit else (None, None)
    queue = (request.delivery_info or {}).get("routing_key") or ""
    connection = worker_connection(task.app)
    return execution.perform_dispatch(connection, Job, job_id, request.id, request.hostname or "celery", limits, queue)


class JobRequest(celery_adapter.KillAwareRequest):
    """A runner task's request: after the pool killed the job, have its outcome recorded."""

    def killed(self, reason: str, detail: str) -> None:
        """Queue finish_killed on the job's own queue, ahead of the jobs waiting there."""
        if reason == "timeout":
            detail = (
                f"JobTimeoutException: Task exceeded maximum timeout value ({detail} seconds, hard limit): "
                "the job ignored the soft limit and was killed"
            )
        elif reason == "lost":
            detail = f"Work-horse terminated unexpectedly; {detail}"
        try:
            self.celery_app.send_task(
                FINISH_KILLED,
                args=[self.args[0], self.id, reason, detail],
                queue=self.queue_name,
                priority=FRONT_PRIORITY,
                ignore_result=True,
            )
        except Exception:
            log.exception("could not queue the follow-up for RQ job %s", self.args[:1])


def finish_killed(task: Task, job_id: str, dispatch_id: str, reason: str, detail: str) -> None:
    """Record a job the pool killed (stopped, past its hard limit, or lost with its child)."""
    execution.finish_killed(worker_connection(task.app), Job, job_id, dispatch_id, reason, detail)
