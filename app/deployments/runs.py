"""Turning a valid run form into a playbook job (web side)."""

from __future__ import annotations

from flask import current_app

from app.ansible.catalogue import Playbook
from app.deployments.forms import RunForm
from app.jobcore.status import JobKind
from app.models import Group, Host
from app.models.audit import Actor
from app.models.inventory import all_names, group_by_name
from app.models.job import Job, JobTarget


def fill_choices(form: RunForm, playbooks: list[Playbook]) -> None:
    """Offer the catalogue's playbooks and the inventory's hosts and groups."""
    form.playbook.choices = [p.name for p in playbooks]
    form.hosts.choices = all_names(Host)
    form.group.choices = all_names(Group)


def target_hosts(form: RunForm) -> list[str]:
    """The host names the form selects (sorted, unique)."""
    if form.target.data == "all":
        return all_names(Host)
    if form.target.data == "group":
        group = group_by_name(form.group.data)
        return [h.name for h in group.hosts] if group else []
    return sorted(set(form.hosts.data))


def build_job(form: RunForm, playbook: Playbook, hosts: list[str], actor: Actor) -> Job:
    """A queued playbook job from the validated form."""
    cfg = current_app.config
    soft = form.time_limit.data * 60 if form.time_limit.data else cfg["TASK_SOFT_TIME_LIMIT"]
    hard = soft + max(60, cfg["TASK_TIME_LIMIT"] - cfg["TASK_SOFT_TIME_LIMIT"])
    job = Job(
        kind=JobKind.PLAYBOOK,
        name=playbook.name,
        created_by_id=actor.id,
        created_by=actor.name,
        allow_concurrent=form.allow_concurrent.data,
        soft_time_limit=soft,
        time_limit=hard,
        params=_params(form, playbook),
    )
    job.targets = [JobTarget(kind="host", name=h) for h in hosts]
    if form.target.data in ("group", "all"):
        job.targets.append(JobTarget(kind="group", name=form.group.data if form.target.data == "group" else "all"))
    return job


def _params(form: RunForm, playbook: Playbook) -> dict[str, object]:
    """The run's parameters as stored on the job (and reused by relaunch)."""
    return {
        "playbook": playbook.name,
        "sha256": playbook.sha256(),
        "target": form.target.data,
        "group": form.group.data if form.target.data == "group" else None,
        "limit": (form.limit.data or "").replace(" ", "") or None,
        "tags": (form.tags.data or "").replace(" ", "") or None,
        "skip_tags": (form.skip_tags.data or "").replace(" ", "") or None,
        "extra_vars": form.parsed_extra_vars,
        "check": form.check.data,
        "diff": form.diff.data,
        "forks": form.forks.data,
    }
