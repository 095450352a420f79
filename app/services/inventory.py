"""Importing a parsed inventory: idempotent upserts that report what changed, audited and committed together."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.ansible.variables import connection_vars, refusal
from app.extensions import db
from app.models import Group, Host
from app.models.audit import Actor, audit
from app.models.inventory import group_by_name, host_by_name
from app.services import Refused

# Inventory variables that map onto Host columns.
COLUMN_VARS = {"ansible_host": "address", "ansible_port": "port", "ansible_user": "user"}


@dataclass
class ImportReport:
    """Names created, updated and unchanged, per kind."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the flash message."""
        return f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged"


def import_inventory(parsed: dict[str, Any], source: str, actor: Actor, admin: bool = False) -> ImportReport:
    """Create or update every host and group of a parsed inventory (never duplicates, never deletes).

    Connection settings (ansible_* besides the host's address, port and user) need an admin: for anyone
    else the whole import is refused, naming them, before anything is written."""
    if not admin:
        _refuse_connection_vars(parsed)
    report = ImportReport()
    for name, data in parsed["hosts"].items():
        _note(report, f"host {name}", *_upsert_host(name, dict(data.get("vars") or {})))
    for name, data in parsed["groups"].items():
        _note(report, f"group {name}", *_upsert_group(name, data, parsed))
    audit("inventory.import", actor, target=source, created=report.created, updated=report.updated)
    db.session.commit()
    return report


def _refuse_connection_vars(parsed: dict[str, Any]) -> None:
    """Raise Refused naming the first host or group whose variables hold connection settings."""
    for kind in ("hosts", "groups"):
        for name, data in parsed[kind].items():
            names = [n for n in connection_vars(data.get("vars") or {}) if n not in COLUMN_VARS]
            if names:
                raise Refused(refusal(names, f"{kind[:-1].capitalize()} {name}"))


def _note(report: ImportReport, label: str, created: bool, changed: bool) -> None:
    """File a name under created/updated/unchanged."""
    (report.created if created else report.updated if changed else report.unchanged).append(label)


def _upsert_host(name: str, variables: dict[str, Any]) -> tuple[bool, bool]:
    """Create or update one host; returns (created, changed)."""
    host = host_by_name(name)
    created = host is None
    if created:
        host = Host(name=name, variables={})
        db.session.add(host)
    wanted = {
        "address": variables.pop("ansible_host", None),
        "port": variables.pop("ansible_port", None),
        "user": variables.pop("ansible_user", None),
        "variables": variables,
    }
    if wanted["port"] is not None:
        wanted["port"] = int(wanted["port"])
    changed = any(getattr(host, k) != v for k, v in wanted.items())
    for key, value in wanted.items():
        setattr(host, key, value)
    return created, changed


def _upsert_group(name: str, data: dict[str, Any], parsed: dict[str, Any]) -> tuple[bool, bool]:
    """Create or update one group with its variables and members (children's hosts included)."""
    found = group_by_name(name)
    created = found is None
    group = found or Group(name=name, variables={})
    db.session.add(group)
    db.session.flush()
    members = {host for h in _all_members(name, parsed) if (host := host_by_name(h)) is not None}
    added = members - set(group.hosts)
    changed = bool(added) or (group.variables or {}) != (data.get("vars") or {})
    group.variables = data.get("vars") or {}
    group.hosts.extend(sorted(added, key=lambda h: h.name))
    return created, changed


def _all_members(name: str, parsed: dict[str, Any], seen: set[str] | None = None) -> set[str]:
    """A group's hosts plus its children's, recursively (Ansible's own semantics)."""
    seen = seen or set()
    if name in seen or name not in parsed["groups"]:
        return set()
    seen.add(name)
    group = parsed["groups"][name]
    members = set(group.get("hosts") or [])
    for child in group.get("children") or []:
        members |= _all_members(child, parsed, seen)
    return members
