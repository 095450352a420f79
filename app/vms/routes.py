"""VM list, create form, detail with history, confirmed actions, and providers (admins)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_login import login_required
from sqlalchemy.orm import contains_eager
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from app.extensions import db
from app.models import VM, Job, JobTarget, Provider
from app.models.audit import audit
from app.models.job import ACTIVE
from app.models.vm import TRANSITIONAL
from app.polling import page_or_fragment
from app.security import role_required
from app.vms import bp
from app.vms.forms import ActionForm, ProviderForm, VMCreateForm
from app.vms.service import ACTIONS, submit_action


def get_vm_or_404(vm_id: int) -> VM:
    """The VM with this id, or 404."""
    vm = db.session.get(VM, vm_id)
    if vm is None:
        abort(404, description="No such VM (it may have been deleted).")
    return vm


def _pending_targets() -> set[str]:
    """VM targets with a queued, waiting or running job (a held lock always belongs to a running one)."""
    return set(
        db.session.scalars(sa.select(JobTarget.name).join(Job).where(JobTarget.kind == "vm", Job.status.in_(ACTIVE)))
    )


@bp.get("/vms")
@login_required
def vms() -> Response:
    """Every VM with a live state badge; the list refreshes only while something is changing."""
    rows = db.session.scalars(
        sa.select(VM).join(Provider).options(contains_eager(VM.provider)).order_by(Provider.name, VM.name)
    ).all()
    pending = _pending_targets()
    changing = any(vm.target in pending or vm.state in TRANSITIONAL for vm in rows)
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
        provider_id = int(form.provider.data)
        if db.session.scalar(sa.select(VM).where(VM.provider_id == provider_id, VM.name == form.name.data)):
            form.name.errors.append("A VM with that name already exists on that hypervisor.")
        else:
            vm = VM(
                name=form.name.data,
                provider_id=provider_id,
                vcpus=form.vcpus.data,
                memory_mib=form.memory_mib.data,
                disk_gib=form.disk_gib.data,
                image=form.image.data or None,
                state="creating",
            )
            db.session.add(vm)
            db.session.flush()
            job = submit_action(vm, "create", form.reason.data)
            return redirect(url_for("jobs.detail", job_id=job.id))
    if not form.provider.choices:
        flash("No hypervisor is configured yet: an admin adds one under Hypervisors.", "error")
    return render_template("vms/create.html", form=form), 400 if form.errors else 200


@bp.get("/vms/<int:vm_id>")
@login_required
def detail(vm_id: int) -> str:
    """One VM: state, size, actions, job history."""
    vm = get_vm_or_404(vm_id)
    jobs = db.session.scalars(
        sa.select(Job)
        .join(JobTarget)
        .where(JobTarget.kind == "vm", JobTarget.name == vm.target)
        .order_by(Job.id.desc())
        .limit(30)
    ).all()
    return render_template("vms/detail.html", vm=vm, jobs=jobs, actions=ACTIONS[1:])


@bp.route("/vms/<int:vm_id>/<action>", methods=["GET", "POST"])
@role_required("operator")
def action(vm_id: int, action: str) -> Response | str:
    """Confirm (GET) and then queue (POST) start, stop, restart or delete."""
    vm = get_vm_or_404(vm_id)
    if action not in ACTIONS[1:]:
        abort(404, description=f"“{action}” is not a VM action.")
    form = ActionForm()
    if form.validate_on_submit():
        job = submit_action(vm, action, form.reason.data)
        return redirect(url_for("jobs.detail", job_id=job.id))
    return render_template("vms/confirm.html", vm=vm, action=action, form=form)


@bp.route("/providers", methods=["GET", "POST"])
@role_required("admin")
def providers() -> Response | tuple[str, int]:
    """Hypervisors: list and add."""
    form = ProviderForm()
    if form.validate_on_submit():
        if db.session.scalar(sa.select(Provider).where(Provider.name == form.name.data)):
            form.name.errors.append("A hypervisor with that name exists.")
        else:
            db.session.add(Provider(name=form.name.data, uri=form.uri.data, queue=form.queue.data or None))
            audit("provider.create", target=form.name.data, uri=form.uri.data, queue=form.queue.data)
            db.session.commit()
            flash(f"Hypervisor {form.name.data} added.", "success")
            return redirect(url_for("vms.providers"))
    rows = db.session.scalars(sa.select(Provider).order_by(Provider.name)).all()
    return render_template("vms/providers.html", providers=rows, form=form), 400 if form.errors else 200
