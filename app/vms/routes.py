"""VM list, create form, detail with history, confirmed actions, and providers (admins)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_login import login_required
from sqlalchemy.orm import contains_eager
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from app.extensions import db
from app.jobcore.queries import jobs_for_target, targets_with_active_jobs
from app.jobcore.status import VM_TRANSITIONAL
from app.models import VM, Provider
from app.polling import page_or_fragment
from app.security import current_actor, role_required
from app.services import Refused
from app.services.providers import create_provider
from app.services.vms import POWER_ACTIONS, create_vm, submit_action
from app.vms import bp
from app.vms.forms import ActionForm, ProviderForm, VMCreateForm


def get_vm_or_404(vm_id: int) -> VM:
    """The VM with this id, or 404 saying so."""
    return db.get_or_404(VM, vm_id, description="No such VM (it may have been deleted).")


@bp.get("/vms")
@login_required
def vms() -> Response:
    """Every VM with a live state badge; the list refreshes only while something is changing."""
    rows = db.session.scalars(
        sa.select(VM).join(Provider).options(contains_eager(VM.provider)).order_by(Provider.name, VM.name)
    ).all()
    pending = targets_with_active_jobs("vm")
    changing = any(vm.target in pending or vm.state in VM_TRANSITIONAL for vm in rows)
    return page_or_fragment("vms/list.html", "rows", changing, vms=rows, pending=pending, changing=changing)


@bp.route("/vms/new", methods=["GET", "POST"])
@role_required("operator")
def create() -> Response | tuple[str, int]:
    """The create form; a valid VM is recorded as 'creating' and its create job queued."""
    form = VMCreateForm()
    form.provider.choices = [
        SelectChoice(str(p.id), f"{p.name} ({p.uri})")
        for p in db.session.scalars(sa.select(Provider).order_by(Provider.name))
    ]
    if form.validate_on_submit():
        try:
            job = create_vm(
                form.name.data,
                int(form.provider.data),
                form.vcpus.data,
                form.memory_mib.data,
                form.disk_gib.data,
                form.image.data,
                current_actor(),
                form.reason.data,
            )
            return redirect(url_for("jobs.detail", job_id=job.id))
        except Refused as refused:
            form.name.errors.append(str(refused))
    if not form.provider.choices:
        flash("No hypervisor is configured yet: an admin adds one under Hypervisors.", "error")
    return render_template("vms/create.html", form=form), 400 if form.errors else 200


@bp.get("/vms/<int:vm_id>")
@login_required
def detail(vm_id: int) -> str:
    """One VM: state, size, actions, job history."""
    vm = get_vm_or_404(vm_id)
    jobs = jobs_for_target("vm", vm.target, limit=30)
    return render_template("vms/detail.html", vm=vm, jobs=jobs, actions=POWER_ACTIONS)


@bp.route("/vms/<int:vm_id>/<action>", methods=["GET", "POST"])
@role_required("operator")
def action(vm_id: int, action: str) -> Response | str:
    """Confirm (GET) and then queue (POST) start, stop, restart or delete."""
    vm = get_vm_or_404(vm_id)
    if action not in POWER_ACTIONS:
        abort(404, description=f"“{action}” is not a VM action.")
    form = ActionForm()
    if form.validate_on_submit():
        job = submit_action(vm, action, current_actor(), form.reason.data)
        return redirect(url_for("jobs.detail", job_id=job.id))
    return render_template("vms/confirm.html", vm=vm, action=action, form=form)


@bp.route("/providers", methods=["GET", "POST"])
@role_required("admin")
def providers() -> Response | tuple[str, int]:
    """Hypervisors: list and add."""
    form = ProviderForm()
    if form.validate_on_submit():
        try:
            create_provider(form.name.data, form.uri.data, form.queue.data, current_actor())
            flash(f"Hypervisor {form.name.data} added.", "success")
            return redirect(url_for("vms.providers"))
        except Refused as refused:
            form.name.errors.append(str(refused))
    rows = db.session.scalars(sa.select(Provider).order_by(Provider.name)).all()
    return render_template("vms/providers.html", providers=rows, form=form), 400 if form.errors else 200
