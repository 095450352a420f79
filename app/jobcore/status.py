"""The closed sets: job statuses (with the edges allowed between them), job kinds and VM states."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """Where a job is in its life; stored as its value."""

    QUEUED = "queued"
    WAITING = "waiting"  # for a lock another job holds
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    CANCELED = "canceled"
    TIMED_OUT = "timed_out"
    LOST = "lost"  # its worker stopped sending heartbeats


ACTIVE = frozenset({JobStatus.QUEUED, JobStatus.WAITING, JobStatus.RUNNING})
TERMINAL = frozenset(JobStatus) - ACTIVE
_ENDINGS = frozenset({JobStatus.SUCCESSFUL, JobStatus.FAILED, JobStatus.CANCELED, JobStatus.TIMED_OUT, JobStatus.LOST})

# Every edge a guarded update may take. A terminal status has none: nothing overwrites an outcome.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.WAITING, JobStatus.RUNNING, JobStatus.CANCELED, JobStatus.FAILED}),
    JobStatus.WAITING: frozenset({JobStatus.WAITING, JobStatus.RUNNING, JobStatus.CANCELED}),
    # RUNNING -> RUNNING sets the cancel flag; -> QUEUED gives the job back for a retry.
    JobStatus.RUNNING: _ENDINGS | {JobStatus.RUNNING, JobStatus.QUEUED},
    **{status: frozenset() for status in TERMINAL},
}


class IllegalTransition(ValueError):
    """A caller asked for a status change the map does not allow (a bug, not a race)."""


def check_edges(sources: frozenset[JobStatus], to: JobStatus) -> None:
    """Raise IllegalTransition unless every `source -> to` edge is in TRANSITIONS."""
    bad = sorted(source for source in sources if to not in TRANSITIONS[source])
    if bad:
        raise IllegalTransition(f"a job may not go from {', '.join(bad)} to {to}")


class JobKind(StrEnum):
    """What a job does; each kind has its own Celery task and queue."""

    PLAYBOOK = "playbook"
    VM = "vm"


class StartOutcome(StrEnum):
    """What a worker's attempt to start a job came to."""

    RUNNING = "running"
    WAITING = "waiting"
    SKIPPED = "skipped"  # canceled meanwhile, already ended, or taken by another delivery
    MISSING = "missing"  # no such job row


class CancelOutcome(StrEnum):
    """What asking a job to stop did."""

    CANCELED = "canceled"  # it had not started: it never will
    STOPPING = "stopping"  # it is running: its worker stops it


class VMState(StrEnum):
    """A VM's last known state: the provider's own states plus the dashboard's."""

    RUNNING = "running"
    STOPPED = "stopped"
    PAUSED = "paused"
    SHUTTING_DOWN = "shutting_down"
    CRASHED = "crashed"
    UNKNOWN = "unknown"
    CREATING = "creating"  # a create job is queued or running
    DELETING = "deleting"  # a delete job is running
    ERROR = "error"  # the last action failed; the reason is on the row
    MISSING = "missing"  # the provider no longer has it


VM_TRANSITIONAL = frozenset({VMState.CREATING, VMState.DELETING})
# States that mean the provider has the VM and it is usable: reconcile clears an error on seeing one.
VM_HEALTHY = frozenset({VMState.RUNNING, VMState.STOPPED, VMState.PAUSED, VMState.SHUTTING_DOWN})
