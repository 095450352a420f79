"""Playbook catalogue, playbook page, and the run form."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.ansible.catalogue import Playbook, PlaybookError, list_playbooks, resolve
from app.deployments import bp
from app.deployments.forms import RunForm
from app.deployments.runs import build_job, fill_choices, target_hosts
from app.jobcore.queries import runs_of_playbook
from app.jobcore.submit import submit
from app.security import current_actor, role_required


def get_playbook_or_404(name: str) -> Playbook:
    """The catalogue entry called `name`; 404 with the reason otherwise."""
    try:
        return resolve(current_app.config["PLAYBOOKS_DIR"], name)
    except PlaybookError as exc:
        abort(404, description=str(exc))


@bp.get("/playbooks")
@login_required
def catalogue() -> str:
    """Every playbook under PLAYBOOKS_DIR."""
    playbooks = list_playbooks(current_app.config["PLAYBOOKS_DIR"])
    return render_template("deployments/catalogue.html", playbooks=playbooks, root=current_app.config["PLAYBOOKS_DIR"])


@bp.get("/playbooks/<path:name>")
@login_required
def playbook(name: str) -> str:
    """A playbook's content (escaped) and its last runs."""
    book = get_playbook_or_404(name)
    runs = runs_of_playbook(book.name, limit=20)
    return render_template("deployments/playbook.html", book=book, content=book.read(), runs=runs)


@bp.route("/run", methods=["GET", "POST"])
@role_required("operator")
def run() -> Response | tuple[str, int]:
    """The run form; on success the job is recorded, queued, and we go to its page at once."""
    form = RunForm(data=_preset() if request.method == "GET" else None)
    playbooks = list_playbooks(current_app.config["PLAYBOOKS_DIR"])
    fill_choices(form, playbooks)
    form.may_set_connection_vars = current_user.has_role("admin")
    if form.validate_on_submit():
        hosts = target_hosts(form)
        if not hosts:
            form.target.errors.append("That target has no hosts.")
        else:
            actor = current_actor()
            job = build_job(form, get_playbook_or_404(form.playbook.data), hosts, actor)
            queued = submit(job, actor, reason=form.reason.data)
            if not queued:
                flash(f"Job #{job.id} could not be queued: {job.error}", "error")
            return redirect(url_for("jobs.detail", job_id=job.id))
    return render_template("deployments/run.html", form=form), 400 if form.errors else 200


def _preset() -> dict[str, object]:
    """Form defaults from the query string: ?playbook=, ?host= (repeatable), ?group=."""
    data: dict[str, object] = {"forks": 5}
    if request.args.get("playbook"):
        data["playbook"] = request.args["playbook"]
    if request.args.getlist("host"):
        data.update(target="hosts", hosts=request.args.getlist("host"))
    elif request.args.get("group"):
        data.update(target="group", group=request.args["group"])
    return data
