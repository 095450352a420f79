"""Running a VM action job inside a worker: each step logged, the VM row kept in step with the provider."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

from celery.utils.time import get_exponential_backoff_interval

from app.extensions import db
from app.jobcore import vmstate
from app.jobcore.status import JobStatus, VMState
from app.models import VM, Job
from app.providers.base import (
    ActionResult,
    ProviderError,
    StepFactory,
    StepHandle,
    TransientProviderError,
    VMNotFound,
    VMProvider,
    VMSpec,
    make_step,
)
from app.providers.registry import provider_for
from app.worker.runtime import JobContext, Outcome, note_retry, run_job

MARKS = {"start": "▶", "ok": "✓", "failed": "✗"}
# Transient hypervisor errors (connection lost, timeouts) are retried this many times, with backoff.
MAX_RETRIES = 3


class RetryLater(Exception):
    """The action hit a transient error: the task should run again after `countdown` seconds."""

    def __init__(self, cause: TransientProviderError, countdown: float) -> None:
        super().__init__(str(cause))
        self.cause, self.countdown = cause, countdown


def run_vm_job(job_id: int, worker: str, attempt: int) -> str:
    """Run VM job `job_id` (attempt 0, 1, ...); raises RetryLater while retries remain."""
    last = attempt >= MAX_RETRIES
    work = partial(execute_vm_action, retry_transient=not last)
    try:
        return run_job(job_id, worker, work, retry_on=() if last else (TransientProviderError,))
    except TransientProviderError as exc:
        countdown = get_exponential_backoff_interval(factor=1, retries=attempt, maximum=60, full_jitter=False)
        note_retry(job_id, f"transient provider error: {exc}; retry {attempt + 1}/{MAX_RETRIES} in {countdown:.0f} s")
        raise RetryLater(exc, countdown) from exc


class JobStopped(Exception):
    """Raised at the start of a step when the job was canceled or ran out of time."""

    def __init__(self, status: JobStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


def execute_vm_action(job: Job, ctx: JobContext, retry_transient: bool = True) -> Outcome:
    """Do the job's VM action through its provider; transient errors propagate for a retry unless
    this is the last attempt."""
    vm = db.session.get(VM, job.params["vm_id"])
    if vm is None or vm.target != job.params.get("vm"):
        ctx.say(f"VM {job.params.get('vm')} is no longer in the dashboard; nothing to do.", failed=True)
        return Outcome(JobStatus.FAILED, {"error": "VM no longer exists in the dashboard"})
    provider = provider_for(vm.provider.kind, vm.provider.uri)
    step = _step_logger(ctx, job)
    action = job.params["action"]
    ctx.say(f"{action} {vm.target} on {vm.provider.uri}")
    try:
        _check_identity(provider, vm, action)
        if action == "delete":
            vmstate.begin_delete(vm.id, job.id)
        result = ACTIONS[action](provider, vm, step)
    except TransientProviderError as exc:
        if retry_transient:
            raise
        return _ended(vm, action, JobStatus.FAILED, f"{exc} (gave up after retrying)", ctx, provider)
    except JobStopped as exc:
        return _ended(vm, action, exc.status, str(exc), ctx, provider)
    except ProviderError as exc:
        return _ended(vm, action, JobStatus.FAILED, str(exc), ctx, provider)
    return _succeeded(vm, job, result, ctx, provider)


class NotThisVM(ProviderError):
    """The hypervisor's VM of that name is another one than the dashboard's (recreated behind its back)."""


def _check_identity(provider: VMProvider, vm: VM, action: str) -> None:
    """Raise NotThisVM unless the hypervisor's VM of this name is the one the dashboard created."""
    if action == "create" or vm.uuid is None:
        return
    try:
        found = provider.uuid(vm.name)
    except VMNotFound:
        return  # each action says what it does about a missing VM
    if found != vm.uuid:
        raise NotThisVM(
            f"{vm.target} on the hypervisor is not the VM this dashboard made (UUID {found}, expected {vm.uuid}): "
            "it was replaced outside the dashboard, so nothing was done"
        )


def _step_logger(ctx: JobContext, job: Job) -> StepFactory:
    """Steps write ▶/✓/✗ lines; each new step first checks for cancel and the job's time limit."""
    deadline = time.monotonic() + job.soft_time_limit
    log = make_step(
        lambda name, outcome, detail: ctx.say(
            f"{MARKS[outcome]} {name}" + (f": {detail}" if detail else ""), failed=outcome == "failed"
        )
    )

    @contextmanager
    def step(name: str) -> Iterator[StepHandle]:
        ctx.beat()
        if ctx.should_cancel():
            raise JobStopped(JobStatus.CANCELED, f"canceled before “{name}”")
        if time.monotonic() > deadline:
            raise JobStopped(JobStatus.TIMED_OUT, f"time limit of {job.soft_time_limit} s reached before “{name}”")
        with log(name) as handle:
            yield handle

    return step


def _create(provider: VMProvider, vm: VM, step: StepFactory) -> ActionResult:
    spec = VMSpec(name=vm.name, vcpus=vm.vcpus, memory_mib=vm.memory_mib, disk_gib=vm.disk_gib, image=vm.image)
    return provider.create(spec, step)


ACTIONS: dict[str, Callable[[VMProvider, VM, StepFactory], ActionResult]] = {
    "create": _create,
    "start": lambda provider, vm, step: provider.start(vm.name, step),
    "stop": lambda provider, vm, step: provider.stop(vm.name, step),
    "restart": lambda provider, vm, step: provider.restart(vm.name, step),
    "delete": lambda provider, vm, step: provider.delete(vm.name, step),
}


def _succeeded(vm: VM, job: Job, result: ActionResult, ctx: JobContext, provider: VMProvider) -> Outcome:
    """Record the new state (and, when not known yet, the VM's UUID); a deleted VM leaves the dashboard."""
    for note in result.notes:
        ctx.say(f"note: {note}")
    if result.state is None:
        ctx.say(f"{vm.target} is gone from the provider; removed from the dashboard.")
        vmstate.remove(vm.id)
    else:
        vmstate.set_state(vm.id, VMState(result.state), last_job_id=job.id, uuid=vm.uuid or provider.uuid(vm.name))
    db.session.commit()
    return Outcome(JobStatus.SUCCESSFUL)


def _ended(vm: VM, action: str, status: JobStatus, reason: str, ctx: JobContext, provider: VMProvider) -> Outcome:
    """A failed, canceled or timed-out action: the VM shows what the provider now says, or the error."""
    db.session.rollback()
    ctx.say(reason, failed=status == JobStatus.FAILED)
    if action == "create":  # the provider removed what it made; a same-named domain is not ours
        state: VMState = VMState.ERROR
        state_reason: str | None = reason
    else:
        state, state_reason = _state_after(provider, vm.name, reason, status)
    vmstate.set_state(vm.id, state, reason=state_reason, last_job_id=ctx.job_id)
    db.session.commit()
    return Outcome(status, {"error": reason[:2000]})


def _state_after(provider: VMProvider, name: str, reason: str, status: JobStatus) -> tuple[VMState, str | None]:
    """(state, reason) as the provider reports them after an action that did not succeed."""
    try:
        return VMState(provider.state(name)), reason if status == JobStatus.FAILED else None
    except VMNotFound:
        return VMState.MISSING, reason
    except ProviderError as exc:
        return VMState.UNKNOWN, f"{reason} (and its state could not be read: {exc})"
