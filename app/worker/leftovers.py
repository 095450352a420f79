"""Leftovers of playbook jobs this machine ran: their processes and work dirs, swept when a worker starts."""

from __future__ import annotations

import logging
import os
import re
import shutil

import sqlalchemy as sa

from app.ansible.processes import stop_leftovers
from app.extensions import db
from app.jobcore.status import JobStatus
from app.models.job import Job
from app.worker.playbooks import WORK_DIR_PREFIX, work_root

log = logging.getLogger(__name__)
_WORK_DIR = re.compile(re.escape(WORK_DIR_PREFIX) + r"(\d+)-")


def work_dirs(root: str) -> dict[int, list[str]]:
    """The job work dirs under root, by job id."""
    found: dict[int, list[str]] = {}
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        if match := _WORK_DIR.match(name):
            found.setdefault(int(match.group(1)), []).append(os.path.join(root, name))
    return found


def abandoned(job_ids: list[int], nodename: str) -> list[int]:
    """Those of job_ids no live worker runs: not running (or deleted), or running under our own name."""
    # we are only starting, so a job still running under our name belonged to our previous life
    running = dict(
        db.session.execute(sa.select(Job.id, Job.worker).where(Job.id.in_(job_ids), Job.status == JobStatus.RUNNING))
        .tuples()
        .all()
    )
    db.session.commit()
    return [job_id for job_id in job_ids if running.get(job_id, nodename) == nodename]


def sweep(nodename: str) -> list[int]:
    """Stop every process of an abandoned job and remove its work dir; returns the job ids.

    The guard (app/ansible/guard.py) takes a job's processes down with its worker; this is for the
    rest: a guard killed along with its worker (OOM killer, kill -9 of the whole session, a reboot
    left only the dirs), whose processes then run on under init."""
    dirs = work_dirs(work_root())
    swept = abandoned(sorted(dirs), nodename) if dirs else []
    for job_id in swept:
        for path in dirs[job_id]:
            stop_leftovers(path)
            shutil.rmtree(path, ignore_errors=True)
    return swept


def sweep_at_start(nodename: str) -> None:
    """Sweep before the worker's pool starts; a failure is logged, never keeps the worker from starting."""
    try:
        swept = sweep(nodename)
    except Exception:  # the worker is more use running than not; the next start sweeps again
        log.exception("sweeping leftovers of earlier jobs failed")
        return
    finally:
        db.session.remove()
        db.engine.dispose()  # no connection of this process may be inherited by the pool's children
    if swept:
        log.warning("stopped the leftover processes and removed the work dirs of job(s) %s", swept)
