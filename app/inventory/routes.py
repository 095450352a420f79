"""Hosts and groups pages, and the inventory import."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response
from wtforms import ValidationError

from app.ansible.inventory import InventoryError, parse_inventory
from app.extensions import db
from app.inventory import bp
from app.inventory.forms import GroupForm, HostForm, ImportForm
from app.jobcore.queries import jobs_for_target
from app.models import Group, Host
from app.models.audit import audit
from app.models.inventory import all_names, group_by_name, host_by_name
from app.requests import form_reason
from app.security import current_actor, role_required
from app.services import Refused
from app.services.inventory import import_inventory
from app.yamltext import dump_mapping

InventoryItem = Host | Group
InventoryForm = HostForm | GroupForm
KINDS: dict[str, tuple[type[Host] | type[Group], Callable[[str], InventoryItem | None]]] = {
    "host": (Host, host_by_name),
    "group": (Group, group_by_name),
}


def _get_or_404(kind: str, object_id: int) -> InventoryItem:
    """The host or group with this id, or 404 saying so."""
    return db.get_or_404(KINDS[kind][0], object_id, description=f"No such {kind}.")


def _host_form(item: Host | None = None) -> HostForm:
    """The host form: posted data, or the host's current values to edit."""
    data = None
    if item is not None and request.method == "GET":
        data = {
            "name": item.name,
            "address": item.address,
            "port": item.port,
            "user": item.user,
            "variables": dump_mapping(item.variables),
            "groups": [g.name for g in item.groups],
        }
    form = HostForm(data=data)
    form.groups.choices = all_names(Group)
    _variables_policy(form, item)
    return form


def _group_form(item: Group | None = None) -> GroupForm:
    """The group form: posted data, or the group's current values to edit."""
    data = None
    if item is not None and request.method == "GET":
        data = {"name": item.name, "variables": dump_mapping(item.variables), "hosts": [h.name for h in item.hosts]}
    form = GroupForm(data=data)
    form.hosts.choices = all_names(Host)
    _variables_policy(form, item)
    return form


def _variables_policy(form: InventoryForm, item: InventoryItem | None) -> None:
    """Only admins change connection settings; others may keep the ones already there."""
    form.previous_variables = dict(item.variables or {}) if item is not None else None
    form.may_set_connection_vars = current_user.has_role("admin")


@bp.get("/hosts")
@login_required
def hosts() -> str:
    """List hosts; operators add new ones."""
    rows = db.session.scalars(sa.select(Host).order_by(Host.name)).all()
    return render_template("inventory/hosts.html", hosts=rows, form=_host_form())


@bp.post("/hosts")
@role_required("operator")
def host_add() -> Response | tuple[str, int]:
    """Add a host."""
    return _save("host", None, _host_form(), "inventory/hosts.html")


@bp.get("/hosts/<int:host_id>")
@login_required
def host(host_id: int) -> str:
    """One host: edit it, see its jobs, run a playbook on it."""
    item = db.get_or_404(Host, host_id, description="No such host.")
    jobs = jobs_for_target("host", item.name, limit=20)
    return render_template("inventory/host.html", host=item, form=_host_form(item), jobs=jobs)


@bp.post("/hosts/<int:host_id>")
@role_required("operator")
def host_edit(host_id: int) -> Response | tuple[str, int]:
    """Save changes to a host."""
    item = db.get_or_404(Host, host_id, description="No such host.")
    return _save("host", item, _host_form(item), "inventory/host.html")


@bp.post("/hosts/<int:host_id>/delete")
@role_required("operator")
def host_delete(host_id: int) -> Response:
    """Delete a host (its past jobs keep their records)."""
    return _delete("host", host_id, "")


@bp.get("/groups")
@login_required
def groups() -> str:
    """List groups; operators add new ones."""
    rows = db.session.scalars(sa.select(Group).order_by(Group.name)).all()
    return render_template("inventory/groups.html", groups=rows, form=_group_form())


@bp.post("/groups")
@role_required("operator")
def group_add() -> Response | tuple[str, int]:
    """Add a group."""
    return _save("group", None, _group_form(), "inventory/groups.html")


@bp.get("/groups/<int:group_id>")
@login_required
def group(group_id: int) -> str:
    """One group: edit it, see its jobs, run a playbook on it."""
    item = db.get_or_404(Group, group_id, description="No such group.")
    jobs = jobs_for_target("group", item.name, limit=20)
    return render_template("inventory/group.html", group=item, form=_group_form(item), jobs=jobs)


@bp.post("/groups/<int:group_id>")
@role_required("operator")
def group_edit(group_id: int) -> Response | tuple[str, int]:
    """Save changes to a group."""
    item = db.get_or_404(Group, group_id, description="No such group.")
    return _save("group", item, _group_form(item), "inventory/group.html")


@bp.post("/groups/<int:group_id>/delete")
@role_required("operator")
def group_delete(group_id: int) -> Response:
    """Delete a group (its hosts stay)."""
    return _delete("group", group_id, "; its hosts stay")


def _save(kind: str, item: InventoryItem | None, form: InventoryForm, template: str) -> Response | tuple[str, int]:
    """Validate and store a host or group (new when item is None); names stay unique."""
    model, by_name = KINDS[kind]
    if form.validate_on_submit():
        other = by_name(form.name.data)
        if other is not None and other is not item:
            form.name.errors.append(f"Another {kind} has that name.")
        else:
            saved = item or model(variables={})
            db.session.add(saved)
            detail: dict[str, Any] = form.apply(saved)  # type: ignore[arg-type]  # KINDS pairs each form with its model
            db.session.flush()
            audit(f"{kind}.save", current_actor(), target=saved.name, **detail)
            db.session.commit()
            flash(f"{kind.capitalize()} {saved.name} saved.", "success")
            return redirect(url_for(f"inventory.{kind}", **{f"{kind}_id": saved.id}))  # type: ignore[arg-type]
    rows = db.session.scalars(sa.select(model).order_by(model.name)).all()
    jobs = jobs_for_target(kind, item.name, limit=20) if item else []
    return render_template(template, **{f"{kind}s": rows, kind: item}, form=form, jobs=jobs), 400


def _delete(kind: str, object_id: int, note: str) -> Response:
    """Delete a host or group and audit it."""
    item = _get_or_404(kind, object_id)
    audit(f"{kind}.delete", current_actor(), target=item.name, reason=form_reason())
    db.session.delete(item)
    db.session.commit()
    flash(f"{kind.capitalize()} {item.name} deleted{note}.", "success")
    return redirect(url_for(f"inventory.{kind}s"))


@bp.route("/inventory/import", methods=["GET", "POST"])
@role_required("operator")
def import_view() -> Response | tuple[str, int]:
    """Import hosts and groups from an Ansible inventory (INI or YAML), idempotently."""
    form = ImportForm()
    if form.validate_on_submit():
        try:
            text, filename = form.inventory_text()
            parsed = parse_inventory(text, filename)
            report = import_inventory(parsed, filename, current_actor(), admin=current_user.has_role("admin"))
        except (InventoryError, ValidationError, Refused) as exc:
            db.session.rollback()
            form.text.errors.append(str(exc))
        else:
            flash(f"Imported: {report.summary()}.", "success")
            return render_template("inventory/import.html", form=ImportForm(formdata=None), report=report), 200
    return render_template("inventory/import.html", form=form, report=None), 400 if form.errors else 200
