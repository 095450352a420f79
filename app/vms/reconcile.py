"""Reconcile: compare each provider's view with the dashboard's and record drift."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Provider, TargetLock
from app.models.audit import audit
from app.providers.base import ProviderError
from app.providers.registry import provider_for
from app.timeutil import utcnow


def reconcile_all() -> dict[str, int]:
    """Refresh every provider's VMs; returns counts of VMs checked and drifted."""
    totals = {"checked": 0, "drifted": 0, "providers_down": 0}
    for provider in db.session.scalars(sa.select(Provider).order_by(Provider.id)):
        try:
            seen = provider_for(provider.kind, provider.uri).list()
        except ProviderError:
            totals["providers_down"] += 1
            continue
        checked, drifted = _reconcile_provider(provider, seen)
        totals["checked"] += checked
        totals["drifted"] += drifted
    db.session.commit()
    return totals


def _reconcile_provider(provider: Provider, seen: dict[str, str]) -> tuple[int, int]:
    """Update one provider's VMs from `seen`, skipping VMs a job is working on right now."""
    busy = set(db.session.scalars(sa.select(TargetLock.key)))
    checked = drifted = 0
    for vm in provider.vms:
        if f"vm:{vm.target}" in busy or vm.state in ("creating", "deleting"):
            continue
        checked += 1
        now_state = seen.get(vm.name, "missing")
        if now_state != vm.state and vm.state != "error":
            audit("vm.drift", target=vm.target, actor="reconcile", was=vm.state, now=now_state)
            vm.state_reason = f"changed outside the dashboard: was {vm.state}, found {now_state}"
            vm.state = now_state
            drifted += 1
        vm.seen_at = utcnow()
    return checked, drifted
