"""Running a VM action job inside a worker: each step logged, the VM row kept in step with the provider."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.extensions import db
from app.jobs.execution import JobContext, Outcome
from app.models import VM, Job
from app.models.job import CANCELED, FAILED, SUCCESSFUL, TIMED_OUT
from app.providers.base import (
    ActionResult,
    ProviderError,
    StepFactory,
    TransientProviderError,
    VMNotFound,
    VMProvider,
    VMSpec,
    make_step,
)
from app.providers.registry import provider_for
from app.timeutil import utcnow

MARKS = {"start": "▶", "ok": "✓", "failed": "✗"}


class JobStopped(Exception):
    """Raised at the start of a step when the job was canceled or ran out of time."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


def execute_vm_action(job: Job, ctx: JobContext, retry_transient: bool = True) -> Outcome:
    """Do the job's VM action through its provider; transient errors propagate for a retry unless
    this is the last attempt."""
    vm = db.session.get(VM, job.params["vm_id"])
    if vm is None:
        ctx.say(f"VM {job.params.get('vm')} is no longer in the dashboard; nothing to do.", failed=True)
        return Outcome(FAILED, {"error": "VM no longer exists in the dashboard"})
    provider = provider_for(vm.provider.kind, vm.provider.uri)
    step = _step_logger(ctx, job)
    action = job.params["action"]
    ctx.say(f"{action} {vm.target} on {vm.provider.uri}")
    try:
        result = ACTIONS[action](provider, vm, step)
    except TransientProviderError as exc:
        if retry_transient:
            raise
        return _ended(vm, action, FAILED, f"{exc} (gave up after retrying)", ctx, provider)
    except JobStopped as exc:
        return _ended(vm, action, exc.status, str(exc), ctx, provider)
    except ProviderError as exc:
        return _ended(vm, action, FAILED, str(exc), ctx, provider)
    return _succeeded(vm, job, result, ctx)


def _step_logger(ctx: JobContext, job: Job) -> StepFactory:
    """Steps write ▶/✓/✗ lines; each new step first checks for cancel and the job's time limit."""
    deadline = time.monotonic() + job.soft_time_limit
    log = make_step(
        lambda name, outcome, detail: ctx.say(
            f"{MARKS[outcome]} {name}" + (f": {detail}" if detail else ""), failed=outcome == "failed"
        )
    )

    @contextmanager
    def step(name: str) -> Iterator[object]:
        ctx.beat()
        if ctx.should_cancel():
            raise JobStopped(CANCELED, f"canceled before “{name}”")
        if time.monotonic() > deadline:
            raise JobStopped(TIMED_OUT, f"time limit of {job.soft_time_limit} s reached before “{name}”")
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


def _succeeded(vm: VM, job: Job, result: ActionResult, ctx: JobContext) -> Outcome:
    """Record the new state; a deleted VM leaves the dashboard once the provider no longer has it."""
    for note in result.notes:
        ctx.say(f"note: {note}")
    if result.state is None:
        ctx.say(f"{vm.target} is gone from the provider; removed from the dashboard.")
        db.session.delete(vm)
    else:
        vm.state, vm.state_reason, vm.seen_at, vm.last_job_id = result.state, None, utcnow(), job.id
    db.session.commit()
    return Outcome(SUCCESSFUL)


def _ended(vm: VM, action: str, status: str, reason: str, ctx: JobContext, provider: VMProvider) -> Outcome:
    """A failed, canceled or timed-out action: the VM shows what the provider now says, or the error."""
    db.session.rollback()
    vm = db.session.get(VM, vm.id)
    ctx.say(reason, failed=status == FAILED)
    if action == "create":  # the provider removed what it made; a same-named domain is not ours
        vm.state, vm.state_reason = "error", reason
    else:
        vm.state, vm.state_reason = _state_after(provider, vm.name, reason, status)
    vm.seen_at, vm.last_job_id = utcnow(), int(ctx.job_id)
    db.session.commit()
    return Outcome(status, {"error": reason[:2000]})


def _state_after(provider: VMProvider, name: str, reason: str, status: str) -> tuple[str, str | None]:
    """(state, reason) as the provider reports them after an action that did not succeed."""
    try:
        return provider.state(name), reason if status == FAILED else None
    except VMNotFound:
        return "missing", reason
    except ProviderError as exc:
        return "unknown", f"{reason} (and its state could not be read: {exc})"
