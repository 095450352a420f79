"""Reconcile: compare each provider's view with the dashboard's and record drift."""

from __future__ import annotations

from collections.abc import Mapping

import sqlalchemy as sa

from app.extensions import db
from app.jobcore import vmstate
from app.jobcore.queries import targets_with_active_jobs
from app.jobcore.status import VMState
from app.models import Provider
from app.providers.base import ProviderError
from app.providers.registry import provider_for


def reconcile_all() -> dict[str, int]:
    """Refresh every provider's VMs; returns counts of VMs checked, drifted and recovered."""
    totals = {"checked": 0, "drifted": 0, "recovered": 0, "providers_down": 0}
    for provider in db.session.scalars(sa.select(Provider).order_by(Provider.id)):
        try:
            seen = provider_for(provider.kind, provider.uri).list()
        except ProviderError:
            totals["providers_down"] += 1
            continue
        for outcome in _reconcile_provider(provider, seen):
            totals["checked"] += 1
            if outcome:
                totals[outcome.replace("drift", "drifted")] += 1
    db.session.commit()
    return totals


def _reconcile_provider(provider: Provider, seen: Mapping[str, str]) -> list[str | None]:
    """Update one provider's idle VMs from `seen` (VMs with a queued, waiting or running job are skipped)."""
    busy = targets_with_active_jobs("vm", (vm.target for vm in provider.vms))
    return [
        vmstate.observe(vm, VMState(seen.get(vm.name, VMState.MISSING))) for vm in provider.vms if vm.target not in busy
    ]
