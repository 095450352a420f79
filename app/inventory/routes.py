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
from app.models.inventory import group_by_name, host_by_name
from app.security import role_required
from app.yamltext import dump_mapping


def _get_or_404(model: type, object_id: int):  # type: ignore[no-untyped-def]
    """The row, or 404."""
    row = db.session.get(model, object_id)
    if row is None:
        abort(404, description=f"No such {model.__name__.lower()}.")
    return row


def _names(model: type) -> list[str]:
    """Every name of a model, sorted."""
    return list(db.session.scalars(sa.select(model.name).order_by(model.name)))


def _recent_jobs(kind: str, name: str) -> list[Job]:
    """The last 20 jobs that targeted this host or group."""
    return list(db.session.scalars(sa.select(Job).join(JobTarget).where(JobTarget.kind == kind, JobTarget.name == name)
                                   .order_by(Job.id.desc()).limit(20)))


@bp.route("/hosts", methods=["GET", "POST"])
@login_required
def hosts() -> Response | tuple[str, int]:
    """List hosts; operators add new ones."""
    form = HostForm()
    form.groups.choices = _names(Group)
    if request.method == "POST":
        return _save_host(None, form, "inventory/hosts.html")
    rows = db.session.scalars(sa.select(Host).order_by(Host.name)).all()
    return render_template("inventory/hosts.html", hosts=rows, form=form), 200


@bp.route("/hosts/<int:host_id>", methods=["GET", "POST"])
@login_required
def host(host_id: int) -> Response | tuple[str, int]:
    """One host: edit it, see its jobs, run a playbook on it."""
    item = _get_or_404(Host, host_id)
    form = HostForm() if request.method == "POST" else HostForm(data={
        "name": item.name, "address": item.address, "port": item.port, "user": item.user,
        "variables": dump_mapping(item.variables), "groups": [g.name for g in item.groups]})
    form.groups.choices = _names(Group)
    if request.method == "POST":
        return _save_host(item, form, "inventory/host.html")
    return render_template("inventory/host.html", host=item, form=form, jobs=_recent_jobs("host", item.name)), 200


@role_required("operator")
def _save_host(item: Host | None, form: HostForm, template: str) -> Response | tuple[str, int]:
    """Validate and store a host (new when item is None)."""
    if form.validate_on_submit():
        other = host_by_name(form.name.data)
        if other is not None and other is not item:
            form.name.errors.append("Another host has that name.")
        else:
            item = item or Host(variables={})
            db.session.add(item)
            item.name, item.address, item.port = form.name.data, form.address.data or None, form.port.data
            item.user, item.variables = form.user.data or None, form.parsed_variables
            item.groups = [g for g in (group_by_name(n) for n in form.groups.data) if g]
            db.session.flush()
            audit("host.save", target=item.name, groups=form.groups.data)
            db.session.commit()
            flash(f"Host {item.name} saved.", "success")
            return redirect(url_for("inventory.host", host_id=item.id))
    rows = db.session.scalars(sa.select(Host).order_by(Host.name)).all()
    jobs = _recent_jobs("host", item.name) if item else []
    return render_template(template, hosts=rows, host=item, form=form, jobs=jobs), 400


@bp.post("/hosts/<int:host_id>/delete")
@role_required("operator")
def host_delete(host_id: int) -> Response:
    """Delete a host (its past jobs keep their records)."""
    item = _get_or_404(Host, host_id)
    audit("host.delete", target=item.name, reason=request.form.get("reason"))
    db.session.delete(item)
    db.session.commit()
    flash(f"Host {item.name} deleted.", "success")
    return redirect(url_for("inventory.hosts"))


@bp.route("/groups", methods=["GET", "POST"])
@login_required
def groups() -> Response | tuple[str, int]:
    """List groups; operators add new ones."""
    form = GroupForm()
    form.hosts.choices = _names(Host)
    if request.method == "POST":
        return _save_group(None, form, "inventory/groups.html")
    rows = db.session.scalars(sa.select(Group).order_by(Group.name)).all()
    return render_template("inventory/groups.html", groups=rows, form=form), 200


@bp.route("/groups/<int:group_id>", methods=["GET", "POST"])
@login_required
def group(group_id: int) -> Response | tuple[str, int]:
    """One group: edit it, see its jobs, run a playbook on it."""
    item = _get_or_404(Group, group_id)
    form = GroupForm() if request.method == "POST" else GroupForm(data={
        "name": item.name, "variables": dump_mapping(item.variables), "hosts": [h.name for h in item.hosts]})
    form.hosts.choices = _names(Host)
    if request.method == "POST":
        return _save_group(item, form, "inventory/group.html")
    return render_template("inventory/group.html", group=item, form=form,
                           jobs=_recent_jobs("group", item.name)), 200


@role_required("operator")
def _save_group(item: Group | None, form: GroupForm, template: str) -> Response | tuple[str, int]:
    """Validate and store a group (new when item is None)."""
    if form.validate_on_submit():
        other = group_by_name(form.name.data)
        if other is not None and other is not item:
            form.name.errors.append("Another group has that name.")
        elif form.name.data in ("all", "ungrouped"):
            form.name.errors.append("“all” and “ungrouped” are Ansible's own groups.")
        else:
            item = item or Group(variables={})
            db.session.add(item)
            item.name, item.variables = form.name.data, form.parsed_variables
            item.hosts = [h for h in (host_by_name(n) for n in form.hosts.data) if h]
            db.session.flush()
            audit("group.save", target=item.name, hosts=form.hosts.data)
            db.session.commit()
            flash(f"Group {item.name} saved.", "success")
            return redirect(url_for("inventory.group", group_id=item.id))
    rows = db.session.scalars(sa.select(Group).order_by(Group.name)).all()
    jobs = _recent_jobs("group", item.name) if item else []
    return render_template(template, groups=rows, group=item, form=form, jobs=jobs), 400


@bp.post("/groups/<int:group_id>/delete")
@role_required("operator")
def group_delete(group_id: int) -> Response:
    """Delete a group (its hosts stay)."""
    item = _get_or_404(Group, group_id)
    audit("group.delete", target=item.name, reason=request.form.get("reason"))
    db.session.delete(item)
    db.session.commit()
    flash(f"Group {item.name} deleted.", "success")
    return redirect(url_for("inventory.groups"))


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
