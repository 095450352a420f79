"""Running a playbook job inside a worker: inventory from SQL, ansible-runner, lines and per-host results."""

from __future__ import annotations

import shutil
import tempfile
from typing import Any

import sqlalchemy as sa
from flask import current_app

from app.ansible.catalogue import resolve
from app.ansible.inventory import build_inventory
from app.ansible.runner import RunSpec, run_playbook
from app.ansible.variables import mask_text, secret_values
from app.extensions import db
from app.jobcore.status import JobStatus
from app.models import Host, HostResult, Job
from app.worker.runtime import JobContext, Outcome

WORK_DIR_PREFIX = "opsdash-job-"  # then the job id and "-": app/worker/leftovers.py finds them by it


def work_root() -> str:
    """Where playbook jobs get their work dirs: JOB_WORK_DIR, else the system temp dir."""
    return current_app.config["JOB_WORK_DIR"] or tempfile.gettempdir()


def execute_playbook(job: Job, ctx: JobContext) -> Outcome:
    """Run the job's playbook on its hosts with ansible-runner; record lines and per-host results."""
    cfg = current_app.config
    playbook = resolve(cfg["PLAYBOOKS_DIR"], job.params["playbook"])
    if playbook.sha256() != job.params.get("sha256"):
        ctx.say(f"Note: {playbook.name} changed after this run was submitted; running the current file.")
    hosts = job.target_names("host")
    spec = _spec(job, playbook.path, run_inventory(hosts, ctx))
    secrets = _secrets(spec)
    ctx.say(f"Running {playbook.name} on {len(hosts)} host(s): {', '.join(hosts)}")
    work_dir = tempfile.mkdtemp(prefix=f"{WORK_DIR_PREFIX}{job.id}-", dir=work_root())
    try:
        result = run_playbook(
            spec,
            work_dir,
            on_events=lambda events: ctx.write(job_lines(events, secrets)),
            should_cancel=ctx.should_cancel,
            on_tick=ctx.beat,
        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    _record_results(job.id, result.stats)
    return Outcome(
        JobStatus(result.status), {"rc": result.rc, "error": _error(result.status, job, result.failed_hosts)}
    )


def _spec(job: Job, path: Any, inventory: dict[str, Any]) -> RunSpec:
    """The ansible-runner spec from the job's stored parameters."""
    p = job.params
    return RunSpec(
        playbook_path=str(path),
        inventory=inventory,
        limit=p.get("limit"),
        tags=p.get("tags"),
        skip_tags=p.get("skip_tags"),
        extra_vars=p.get("extra_vars") or {},
        check=bool(p.get("check")),
        diff=bool(p.get("diff")),
        forks=int(p.get("forks") or 5),
        timeout=job.soft_time_limit,
        host_key_checking=current_app.config["ANSIBLE_HOST_KEY_CHECKING"],
    )


def run_inventory(host_names: list[str], ctx: JobContext | None = None) -> dict[str, Any]:
    """The inventory for exactly these hosts, with their groups (and group variables) from the database."""
    hosts = db.session.scalars(sa.select(Host).where(Host.name.in_(host_names)).order_by(Host.name)).all()
    missing = sorted(set(host_names) - {h.name for h in hosts})
    if missing and ctx is not None:
        ctx.say(f"Skipping host(s) deleted since the run was submitted: {', '.join(missing)}", failed=True)
    groups: dict[str, list[str]] = {}
    group_vars: dict[str, dict[str, Any]] = {}
    for host in hosts:
        for group in host.groups:
            groups.setdefault(group.name, []).append(host.name)
            group_vars[group.name] = group.variables or {}
    inventory = build_inventory([h.inventory_record() for h in hosts], groups)
    for name, entry in inventory["all"].get("children", {}).items():
        if group_vars.get(name):
            entry["vars"] = group_vars[name]
    return inventory


def _secrets(spec: RunSpec) -> list[str]:
    """Values under secret-looking names in the extra vars and the inventory: masked in the stored log."""
    found = secret_values(spec.extra_vars)
    for group in [spec.inventory["all"], *spec.inventory["all"].get("children", {}).values()]:
        found += secret_values(group.get("vars") or {})
        for host_vars in (group.get("hosts") or {}).values():
            found += secret_values(host_vars or {})
    return sorted(set(found), key=len, reverse=True)


def job_lines(events: list[dict[str, Any]], secrets: list[str] | None = None) -> list[dict[str, Any]]:
    """Runner events with output, as job lines (secret values masked)."""
    return [
        {
            "text": mask_text(e["stdout"], secrets or []),
            "event": e["event"],
            "host": e.get("host"),
            "task": mask_text(e["task"], secrets or []) if e.get("task") else None,
            "failed": e.get("failed"),
        }
        for e in events
        if e.get("stdout")
    ]


def _record_results(job_id: int, stats: dict[str, dict[str, int]]) -> None:
    """Store Ansible's per-host counts."""
    db.session.add_all(HostResult(job_id=job_id, host=host, **counts) for host, counts in stats.items())
    db.session.commit()


def _error(status: str, job: Job, failed_hosts: list[str]) -> str | None:
    """A one-line reason for a run that did not succeed."""
    if status == JobStatus.FAILED:
        return f"Failed on: {', '.join(failed_hosts)}" if failed_hosts else "ansible-playbook failed"
    if status == JobStatus.TIMED_OUT:
        return f"Stopped at its time limit of {job.soft_time_limit // 60 or 1} min"
    if status == JobStatus.CANCELED:
        return f"Canceled by {job.canceled_by}" if job.canceled_by else "Canceled"
    return None
