"""RQ's public API on top of Celery: change `from rq import ...` to `from app.tasks.rq_compat import ...`.

Jobs are recorded in the Redis you pass (RQ 2.x's key layout, so RQ's own tools can read them) and run by the
project's Celery workers (`celery -A wsgi worker -Q <queue names>`), under their real function names.
"""

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
from app.tasks.rq_compat.options import Callback, Dependency, JobStatus, Retry
from app.tasks.rq_compat.overview import queue_overview
from app.tasks.rq_compat.queue import Queue
from app.tasks.rq_compat.registry import (
    CanceledJobRegistry,
    DeferredJobRegistry,
    FailedJobRegistry,
    FinishedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from app.tasks.rq_compat.results import Result

__all__ = [
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
