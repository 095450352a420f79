"""RQ's public API on top of Celery: change `from rq import ...` to `from app.tasks.rq_compat import ...`.

Jobs are recorded in the Redis you pass (RQ 3.0's key layout, the same as 2.x's, so RQ's own tools read them)
and run by the project's Celery workers (`celery -A wsgi worker -Q <queue names>`) under their real function
names.

The package is self-contained: it imports nothing else from the project, and the project wires it in with one
call, `init_app(celery_app, redis_url)`, made where the Celery app is built: the app's workers then run RQ jobs
whose records are in `redis_url`, and the app publishes jobs enqueued on a Queue given that Redis. Code that
never calls init_app (an RQ user's script: `Queue("reports", connection=Redis.from_url(URL)).enqueue(...)`)
still works: it publishes through a standalone Celery app configured from `celeryconfig`, whose broker is the
Redis the Queue was given (state.py). Every use of Celery's internals is in celery_adapter.py.

Modules, lowest first (no module imports one above it): exceptions, keys, utils, options, local, codec (the
record's hash layout), record, results, state, celery_adapter, dispatch (Celery messages), enqueueing,
dependencies, outcomes (how a run ended), execution (the one place a job runs), registry, job, queue, then
worker (init_app), commands, overview, decorators, cli.
"""

from app.tasks.rq_compat import registry
from app.tasks.rq_compat.commands import cancel_job, requeue_job, send_stop_job_command
from app.tasks.rq_compat.exceptions import (
    DeserializationError,
    DuplicateJobError,
    InvalidJobOperation,
    JobTimeoutException,
    NoSuchJobError,
    TimeoutFormatError,
)
from app.tasks.rq_compat.job import Job, get_current_job
from app.tasks.rq_compat.options import Callback, JobStatus, Retry
from app.tasks.rq_compat.overview import queue_overview
from app.tasks.rq_compat.queue import Queue
from app.tasks.rq_compat.record import Dependency
from app.tasks.rq_compat.registry import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from app.tasks.rq_compat.results import Result
from app.tasks.rq_compat.worker import init_app

# A registry made on its own (FailedJobRegistry("q", connection=r)) gives back these classes; registry.py cannot
# import them (jobs and queues hand out registries, so it sits below both).
registry.BaseRegistry.default_job_class = Job
registry.BaseRegistry.default_queue_class = Queue

__all__ = [
    "init_app",
    "Queue",
    "Job",
    "JobStatus",
    "Retry",
    "Callback",
    "Dependency",
    "Result",
    "get_current_job",
    "cancel_job",
    "requeue_job",
    "send_stop_job_command",
    "NoSuchJobError",
    "InvalidJobOperation",
    "DuplicateJobError",
    "JobTimeoutException",
    "DeserializationError",
    "TimeoutFormatError",
    "StartedJobRegistry",
    "FinishedJobRegistry",
    "FailedJobRegistry",
    "DeferredJobRegistry",
    "ScheduledJobRegistry",
    "CanceledJobRegistry",
    "queue_overview",
]
