"""The job page and its live fragment, history, cancel, relaunch and retry."""

from __future__ import annotations

from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_htmx.constants import HTMX_STOP_POLLING
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.ansible.inventory import is_host_name
from app.extensions import db
from app.jobcore.queries import FILTERS, failed_hosts, history_query, is_poll_batch_full, lines_after, lines_before
from app.jobcore.status import CancelOutcome, JobKind, JobStatus
from app.jobcore.submit import cancel, copy_job, submit
from app.jobs import bp
from app.models.job import Job
from app.polling import page_or_fragment
from app.requests import form_reason, paginate, query_int
from app.security import current_actor, role_required
from app.services import Refused
from app.services.relaunch import check_relaunch


def get_job_or_404(job_id: int) -> Job:
    """The job with this id, or 404 saying so."""
    return db.get_or_404(Job, job_id, description=f"There is no job #{job_id}.")


@bp.get("/")
@login_required
def history() -> Response:
    """All jobs, newest first, filterable; the rows refresh themselves while any is active."""
    filters = {k: request.args.get(k, "").strip() for k in FILTERS}
    page = paginate(history_query(filters))
    polling = any(job.active for job in page.items)
    return page_or_fragment(
        "jobs/history.html", "rows", polling, page=page, filters=filters, statuses=list(JobStatus), polling=polling
    )


@bp.get("/<int:job_id>")
@login_required
def detail(job_id: int) -> str:
    """The job page: status, parameters, per-host results and the tail of the log."""
    job = get_job_or_404(job_id)
    lines, earlier = lines_before(job.id, None, current_app.config["LOG_TAIL_LINES"])
    last_seq = lines[-1].seq if lines else 0
    return render_template("jobs/job.html", job=job, lines=lines, earlier=earlier, last_seq=last_seq)


@bp.get("/<int:job_id>/tail")
@login_required
def tail(job_id: int) -> Response:
    """New lines after ?after=, plus the header when the status changed; 286 once the job has ended."""
    job = get_job_or_404(job_id)
    after = query_int("after", 0) or 0
    lines = lines_after(job.id, after)
    last_seq = lines[-1].seq if lines else after
    more = is_poll_batch_full(lines)
    changed = request.args.get("status") != job.status or not job.active
    resp = make_response(
        render_template(
            "jobs/_tail.html", job=job, lines=lines, last_seq=last_seq, changed=changed, keep_polling=job.active or more
        )
    )
    resp.status_code = 200 if (job.active or more) else HTMX_STOP_POLLING
    return resp


@bp.get("/<int:job_id>/earlier")
@login_required
def earlier(job_id: int) -> str:
    """Lines before ?before=, with a button for the ones before those."""
    job = get_job_or_404(job_id)
    lines, more = lines_before(job.id, query_int("before", None), current_app.config["LOG_TAIL_LINES"])
    return render_template("jobs/_earlier.html", job=job, lines=lines, earlier=more)


@bp.post("/<int:job_id>/cancel")
@role_required("operator")
def cancel_job(job_id: int) -> Response:
    """Cancel: a queued job never starts; a running one is stopped by its worker."""
    job = get_job_or_404(job_id)
    outcome = cancel(job, current_actor(), form_reason())
    messages = {
        CancelOutcome.CANCELED: f"Job #{job.id} canceled.",
        CancelOutcome.STOPPING: f"Stopping job #{job.id}…",
        None: f"Job #{job.id} had already ended.",
    }
    flash(messages[outcome], "success" if outcome else "info")
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.post("/<int:job_id>/relaunch")
@role_required("operator")
def relaunch(job_id: int) -> Response:
    """Run the same job again with the same parameters."""
    return _resubmit(get_job_or_404(job_id), {}, "relaunch")


@bp.post("/<int:job_id>/retry-failed")
@role_required("operator")
def retry_failed(job_id: int) -> Response:
    """Run the playbook again, limited to the hosts that failed or were unreachable."""
    job = get_job_or_404(job_id)
    hosts = failed_hosts(job.id)
    if job.kind != JobKind.PLAYBOOK or not hosts:
        flash("No host failed in that run, so there is nothing to retry.", "error")
        return redirect(url_for("jobs.detail", job_id=job.id))
    odd = [host for host in hosts if not is_host_name(host)]
    if odd:  # retry limits by exact names; these would be read as patterns (or as a file, for @...)
        flash(f"Host {odd[0]!r} has characters Ansible reads as a pattern; rename it, then run again.", "error")
        return redirect(url_for("jobs.detail", job_id=job.id))
    return _resubmit(job, {"limit": ",".join(hosts)}, "retry failed hosts")


def _resubmit(job: Job, changes: dict[str, object], why: str) -> Response:
    """Submit a copy of `job` and go to its page (with the reason if queueing failed)."""
    try:
        check_relaunch(job, admin=current_user.has_role("admin"))
    except Refused as refused:
        flash(str(refused), "error")
        return redirect(url_for("jobs.detail", job_id=job.id))
    actor = current_actor()
    clone = copy_job(job, actor, **changes)
    queued = submit(clone, actor, reason=f"{why} of job #{job.id}")
    flash(
        f"Job #{clone.id} queued ({why} of #{job.id})."
        if queued
        else f"Job #{clone.id} could not be queued: {clone.error}",
        "success" if queued else "error",
    )
    return redirect(url_for("jobs.detail", job_id=clone.id))
