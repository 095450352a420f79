"""How the project's Celery workers run RQ jobs under the jobs' own task names.

A job is published as a Celery task named after its function (`tests.rq_jobs.add`), so Flower, events and logs
show that name. No such task is registered anywhere: the worker's task registry (JobTaskRegistry, given to
Celery() in celery_init_app) makes a runner task on first sight of such a name, and a consumer step lets the
worker's message dispatcher do the same. Requests of runner tasks use JobRequest, whose hooks notice when the
prefork pool killed a job (stop, hard time limit, lost child) and queue `finish_killed` to record it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from billiard.exceptions import WorkerLostError
from celery import Celery, bootsteps, shared_task
from celery._state import get_current_app
from celery.app.registry import TaskRegistry
from celery.app.trace import build_tracer
from celery.exceptions import NotRegistered, Terminated
from celery.worker.request import Request

from app.tasks.rq_compat.dispatch import FALLBACK_TASK_NAME, FRONT_PRIORITY, is_job_task_name

log = logging.getLogger(__name__)
FINISH_KILLED = "app.tasks.rq_compat.finish_killed"
_connections: dict[tuple[int, str], Any] = {}


def worker_connection() -> Any:
    """The Redis holding the job records: RQ_REDIS_URL, else the app's REDIS_URL (one client per process)."""
    from flask import current_app, has_app_context
    from redis import Redis

    url = os.environ.get("RQ_REDIS_URL") or (current_app.config["REDIS_URL"] if has_app_context() else None)
    url = url or get_current_app().conf.result_backend
    key = (os.getpid(), url)
    if key not in _connections:
        _connections[key] = Redis.from_url(url)
    return _connections[key]


def run_job_message(task: Any, *args: Any, **kwargs: Any) -> Any:
    """Body of every runner task: run the RQ job the message names."""
    from app.tasks.rq_compat.execution import perform_dispatch

    if len(args) != 1 or kwargs or not isinstance(args[0], str):  # not one of our messages
        raise NotRegistered(f"{task.name} is neither a registered task nor an RQ job message")
    job_id, request = args[0], task.request
    limits = tuple(request.timelimit) if request.timelimit else (None, None)
    queue = (request.delivery_info or {}).get("routing_key") or ""
    return perform_dispatch(worker_connection(), job_id, request.id, request.hostname or "celery", limits, queue)


class JobRequest(Request):
    """A runner task's request: after the pool killed the job, have its outcome recorded."""

    def on_timeout(self, soft: bool, timeout: float) -> None:
        """Hard limit: the child is gone, so the failure is recorded by a follow-up task."""
        super().on_timeout(soft, timeout)
        if not soft:
            self._follow_up(
                "timeout",
                f"JobTimeoutException: Task exceeded maximum timeout value ({timeout:g} "
                "seconds, hard limit): the job ignored the soft limit and was killed",
            )

    def on_failure(self, exc_info: Any, send_failed_event: bool = True, return_ok: bool = False) -> None:
        """A child killed by revoke(terminate=True) means a stop; any other lost child, a failure."""
        super().on_failure(exc_info, send_failed_event=send_failed_event, return_ok=return_ok)
        exc = getattr(exc_info.exception, "exc", exc_info.exception)
        if self._already_cancelled:  # connection loss: Celery delivers the message again
            return
        if isinstance(exc, Terminated) or self._already_revoked:
            self._follow_up("stopped", "")
        elif isinstance(exc, WorkerLostError):
            self._follow_up("lost", f"Work-horse terminated unexpectedly; {exc}")

    def _follow_up(self, reason: str, detail: str) -> None:
        """Queue finish_killed on the job's own queue, ahead of the jobs waiting there."""
        queue = (self.delivery_info or {}).get("routing_key") or "default"
        try:
            self._app.send_task(
                FINISH_KILLED,
                args=[self.args[0], self.id, reason, detail],
                queue=queue,
                priority=FRONT_PRIORITY,
                ignore_result=True,
            )
        except Exception:
            log.exception("could not queue the follow-up for RQ job %s", self.args[:1])


def _make_runner(app: Celery, name: str) -> Any:
    """A runner task registered under `name`, with its tracer built (the pool children need it)."""
    task = app.task(
        name=name,
        bind=True,
        shared=False,
        lazy=False,
        Request=JobRequest,
        ignore_result=True,
        track_started=False,
        typing=False,
    )(run_job_message)
    task.__trace__ = build_tracer(name, task, app.loader, None, app=app)
    return task


class JobTaskRegistry(TaskRegistry):
    """Celery's task registry, plus: an unknown dotted name resolves to an RQ job runner under that name."""

    def __missing__(self, name: str) -> Any:
        if not is_job_task_name(name):
            raise self.NotRegistered(name)
        app = get_current_app()
        if name in self:  # registered while app.task() ran
            return dict.__getitem__(self, name)
        return _make_runner(app, name)


class OnDemandStrategies(dict):
    """The consumer's name -> strategy map, filled in on first sight of a job's task name."""

    def __init__(self, consumer: Any) -> None:
        super().__init__()
        self.consumer = consumer

    def __missing__(self, name: str) -> Any:
        app = self.consumer.app
        task = app.tasks[name]  # NotRegistered is a KeyError: the consumer then rejects the message as usual
        self[name] = task.start_strategy(app, self.consumer)
        task.__trace__ = build_tracer(name, task, app.loader, self.consumer.hostname, app=app)
        return self[name]


class JobStrategies(bootsteps.Step):
    """Consumer step installing OnDemandStrategies before the consumer starts."""

    name = "rq_compat.JobStrategies"

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        parent.strategies = OnDemandStrategies(parent)


def install(celery_app: Celery) -> None:
    """Let this app's workers run RQ jobs under their own task names."""
    celery_app.steps["consumer"].add(JobStrategies)


@shared_task(name=FINISH_KILLED, ignore_result=True)
def finish_killed(job_id: str, dispatch_id: str, reason: str, detail: str) -> None:
    """Record a job the pool killed (stopped, past its hard limit, or lost with its child)."""
    from app.tasks.rq_compat.execution import finish_killed as record

    record(worker_connection(), job_id, dispatch_id, reason, detail)


@shared_task(name=FALLBACK_TASK_NAME, bind=True, ignore_result=True, Request=JobRequest)
def job(self: Any, *args: Any, **kwargs: Any) -> Any:
    """Runner for jobs whose function has no importable dotted name (lambdas, nested functions)."""
    return run_job_message(self, *args, **kwargs)
