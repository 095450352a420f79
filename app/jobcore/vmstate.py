"""The only code that changes a VM's state: guarded updates, like a job's status.

Workers change the state of a VM whose lock they hold; reconcile changes only VMs no active job acts on, and
only from the state it read (so a job that started meanwhile wins).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import CursorResult

from app.extensions import db
from app.jobcore.status import VM_HEALTHY, VM_TRANSITIONAL, VMState
from app.models.audit import Actor, audit
from app.models.vm import VM
from app.timeutil import utcnow

RECONCILE = Actor("reconcile")


def set_state(
    vm_id: int, to: VMState, *, expected: Iterable[VMState] | None = None, reason: str | None = None, **values: Any
) -> bool:
    """Set the state (and its reason) if it is one of `expected` now, or whatever it is when None; True if won."""
    query = sa.update(VM).where(VM.id == vm_id)
    if expected is not None:
        query = query.where(VM.state.in_(sorted(expected)))
    values = {"state": VMState(to), "state_reason": reason, "seen_at": utcnow(), **values}
    result = cast(
        CursorResult[Any],  # an UPDATE's result, which has a row count
        db.session.execute(query.values(**values).execution_options(synchronize_session=False)),
    )
    return result.rowcount == 1


def begin_delete(vm_id: int, job_id: int) -> None:
    """A delete job started: the VM shows 'deleting' until the job ends."""
    set_state(vm_id, VMState.DELETING, last_job_id=job_id)
    db.session.commit()


def remove(vm_id: int) -> None:
    """The provider no longer has the VM: it leaves the dashboard."""
    db.session.execute(sa.delete(VM).where(VM.id == vm_id))


def observe(vm: VM, found: VMState) -> str | None:
    """Record what reconcile found for an idle VM: 'drift', 'recovered', or None when nothing changed."""
    was = vm.state
    if found == was or (was == VMState.ERROR and found not in VM_HEALTHY):
        vm.seen_at = utcnow()
        return None
    if was == VMState.ERROR:
        outcome, reason = "recovered", None
    elif was in VM_TRANSITIONAL:
        outcome, reason = "drift", f"left {was} by a job that did not finish; found {found}"
    else:
        outcome, reason = "drift", f"changed outside the dashboard: was {was}, found {found}"
    if not set_state(vm.id, found, expected=(was,), reason=reason):
        return None  # a job changed it meanwhile: its word is newer than ours
    audit(f"vm.{outcome}", RECONCILE, target=vm.target, was=was, now=found)
    return outcome
