"""Redis key names: exactly RQ's layout (2.x and 3.0 share it), so RQ's own tools (rq info, rq-dashboard) read them."""

from __future__ import annotations

JOB_PREFIX = "rq:job:"
QUEUE_PREFIX = "rq:queue:"
QUEUES_SET = "rq:queues"


def job_key(job_id: str) -> str:
    """The hash holding one job."""
    return f"{JOB_PREFIX}{job_id}"


def dependents_key(job_id: str) -> str:
    """The set of jobs waiting for this one."""
    return f"{JOB_PREFIX}{job_id}:dependents"


def dependencies_key(job_id: str) -> str:
    """The set of jobs this one waits for (RQ's spelling has the double colon)."""
    return f"{JOB_PREFIX}:{job_id}:dependencies"


def queue_key(name: str) -> str:
    """The list of queued job ids of one queue."""
    return f"{QUEUE_PREFIX}{name}"


def results_key(job_id: str) -> str:
    """The stream of a job's results."""
    return f"rq:results:{job_id}"


REGISTRY_TEMPLATES = {
    "started": "rq:wip:{0}",
    "finished": "rq:finished:{0}",
    "failed": "rq:failed:{0}",
    "deferred": "rq:deferred:{0}",
    "scheduled": "rq:scheduled:{0}",
    "canceled": "rq:canceled:{0}",
}


def registry_key(kind: str, queue_name: str) -> str:
    """The sorted set of one registry of one queue."""
    return REGISTRY_TEMPLATES[kind].format(queue_name)
