"""Hosts and groups pages, and the inventory import."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response
from wtforms import ValidationError

from app.ansible.inventory import InventoryError, parse_inventory
from app.extensions import db
from app.inventory import bp
from app.inventory.forms import GroupForm, HostForm, ImportForm
from app.inventory.sync import import_inventory
from app.models import Group, Host, Job, JobTarget
from app.models.audit import audit
from app.models.inventory import all_names, group_by_name, host_by_name
from app.security import role_required
from app.yamltext import dump_mapping

KINDS = {"host": (Host, host_by_name), "group": (Group, group_by_name)}


def _get_or_404(model: type, object_id: int):  # type: ignore[no-untyped-def]
    """The row, or 404."""
    row = db.session.get(model, object_id)
    if row is None:
        abort(404, description=f"No such {model.__name__.lower()}.")
    return row


def _recent_jobs(kind: str, name: str) -> list[Job]:
    """The last 20 jobs that targeted this host or group."""
    return list(
        db.session.scalars(
            sa.select(Job)
            .join(JobTarget)
            .where(JobTarget.kind == kind, JobTarget.name == name)
            .order_by(Job.id.desc())
            .limit(20)
        )
    )


@bp.route("/hosts", methods=["GET", "POST"])
@login_required
def hosts() -> Response | tuple[str, int]:
    """List hosts; operators add new ones."""
    form = HostForm()
    form.groups.choices = all_names(Group)
    if request.method == "POST":
        return _save("host", None, form, "inventory/hosts.html")
    rows = db.session.scalars(sa.select(Host).order_by(Host.name)).all()
    return render_template("inventory/hosts.html", hosts=rows, form=form), 200


@bp.route("/hosts/<int:host_id>", methods=["GET", "POST"])
@login_required
def host(host_id: int) -> Response | tuple[str, int]:
    """One host: edit it, see its jobs, run a playbook on it."""
    item = _get_or_404(Host, host_id)
    form = (
        HostForm()
        if request.method == "POST"
        else HostForm(
            data={
                "name": item.name,
                "address": item.address,
                "port": item.port,
                "user": item.user,
                "variables": dump_mapping(item.variables),
                "groups": [g.name for g in item.groups],
            }
        )
    )
    form.groups.choices = all_names(Group)
    if request.method == "POST":
        return _save("host", item, form, "inventory/host.html")
    return render_template("inventory/host.html", host=item, form=form, jobs=_recent_jobs("host", item.name)), 200


@role_required("operator")
def _save(
    kind: str, item: Host | Group | None, form: HostForm | GroupForm, template: str
) -> Response | tuple[str, int]:
    """Validate and store a host or group (new when item is None); names stay unique."""
    model, by_name = KINDS[kind]
    if form.validate_on_submit():
        other = by_name(form.name.data)
        if other is not None and other is not item:
            form.name.errors.append(f"Another {kind} has that name.")
        else:
            item = item or model(variables={})
            db.session.add(item)
            detail = form.apply(item)
            db.session.flush()
            audit(f"{kind}.save", target=item.name, **detail)
            db.session.commit()
            flash(f"{kind.capitalize()} {item.name} saved.", "success")
            return redirect(url_for(f"inventory.{kind}", **{f"{kind}_id": item.id}))
    rows = db.session.scalars(sa.select(model).order_by(model.name)).all()
    jobs = _recent_jobs(kind, item.name) if item else []
    return render_template(template, **{f"{kind}s": rows, kind: item}, form=form, jobs=jobs), 400


def _delete(kind: str, object_id: int, note: str) -> Response:
    """Delete a host or group and audit it."""
    item = _get_or_404(KINDS[kind][0], object_id)
    audit(f"{kind}.delete", target=item.name, reason=request.form.get("reason"))
    db.session.delete(item)
    db.session.commit()
    flash(f"{kind.capitalize()} {item.name} deleted{note}.", "success")
    return redirect(url_for(f"inventory.{kind}s"))


@bp.post("/hosts/<int:host_id>/delete")
@role_required("operator")
def host_delete(host_id: int) -> Response:
    """Delete a host (its past jobs keep their records)."""
    return _delete("host", host_id, "")


@bp.route("/groups", methods=["GET", "POST"])
@login_required
def groups() -> Response | tuple[str, int]:
    """List groups; operators add new ones."""
    form = GroupForm()
    form.hosts.choices = all_names(Host)
    if request.method == "POST":
        return _save("group", None, form, "inventory/groups.html")
    rows = db.session.scalars(sa.select(Group).order_by(Group.name)).all()
    return render_template("inventory/groups.html", groups=rows, form=form), 200


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
@login_required
def group(group_id: int) -> Response | tuple[str, int]:
    """One group: edit it, see its jobs, run a playbook on it."""
    item = _get_or_404(Group, group_id)
    form = (
        GroupForm()
        if request.method == "POST"
        else GroupForm(
            data={"name": item.name, "variables": dump_mapping(item.variables), "hosts": [h.name for h in item.hosts]}
        )
    )
    form.hosts.choices = all_names(Host)
    if request.method == "POST":
        return _save("group", item, form, "inventory/group.html")
    return render_template("inventory/group.html", group=item, form=form, jobs=_recent_jobs("group", item.name)), 200


@bp.post("/groups/<int:group_id>/delete")
@role_required("operator")
def group_delete(group_id: int) -> Response:
    """Delete a group (its hosts stay)."""
    return _delete("group", group_id, "; its hosts stay")


@bp.route("/inventory/import", methods=["GET", "POST"])
@role_required("operator")
def import_view() -> Response | tuple[str, int]:
    """Import hosts and groups from an Ansible inventory (INI or YAML), idempotently."""
    form = ImportForm()
    if form.validate_on_submit():
        try:
            text, filename = form.inventory_text()
            report = import_inventory(parse_inventory(text, filename))
        except (InventoryError, ValidationError) as exc:
            db.session.rollback()
            form.text.errors.append(str(exc))
        else:
            audit("inventory.import", target=filename, created=report.created, updated=report.updated)
            db.session.commit()
            flash(f"Imported: {report.summary()}.", "success")
            return render_template("inventory/import.html", form=ImportForm(formdata=None), report=report), 200
    return render_template("inventory/import.html", form=form, report=None), 400 if form.errors else 200
