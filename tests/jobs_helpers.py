"""Helpers for tests that create hosts and run jobs through the real worker."""

from __future__ import annotations

import sys
from typing import Any

import sqlalchemy as sa
from flask import Flask

from app.extensions import db
from app.jobcore.status import TERMINAL
from app.models import Group, Host, Job
from tests.services import wait_for

LOCAL_VARS = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}


def add_hosts(app: Flask, *names: str, group: str | None = None, **variables: Any) -> None:
    """Local hosts (ansible_connection=local), optionally all in one group."""
    with app.app_context():
        hosts = [Host(name=n, variables={**LOCAL_VARS, **variables}) for n in names]
        db.session.add_all(hosts)
        if group:
            db.session.add(Group(name=group, variables={}, hosts=hosts))
        db.session.commit()


def job_record(**fields: Any) -> Job:
    """An unsaved playbook job for tests/echo.yml, with `fields` changed (status, params, created_by...)."""
    defaults: dict[str, Any] = {
        "kind": "playbook",
        "name": "tests/echo.yml",
        "created_by": "oper",
        "soft_time_limit": 60,
        "time_limit": 120,
        "params": {"playbook": "tests/echo.yml"},
    }
    return Job(**{**defaults, **fields})


def job_row(app: Flask, job_id: int) -> Job:
    """A fresh copy of the job row (detached, with targets and results loaded)."""
    with app.app_context():
        job = db.session.get(Job, job_id)
        _ = job.targets, job.host_results
        db.session.expunge(job)
        return job


def latest_job_id(app: Flask) -> int:
    """The newest job's id."""
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.max(Job.id)))


def wait_status(app: Flask, job_id: int, statuses: tuple[str, ...] = TERMINAL, timeout: float = 60) -> Job:
    """Wait until the job reaches one of `statuses`; return the row."""
    wait_for(
        lambda: job_row(app, job_id).status in statuses, timeout=timeout, message=f"job {job_id} to reach {statuses}"
    )
    return job_row(app, job_id)


def job_text(app: Flask, job_id: int) -> str:
    """All of a job's output, in order."""
    from app.models import JobLine

    with app.app_context():
        return "".join(
            db.session.scalars(sa.select(JobLine.text).where(JobLine.job_id == job_id).order_by(JobLine.seq))
        )


def run_form(playbook: str = "tests/echo.yml", **fields: Any) -> dict[str, Any]:
    """Form fields for POST /run."""
    data: dict[str, Any] = {"playbook": playbook, "target": "hosts", "forks": "5"}
    data.update(fields)
    return data
