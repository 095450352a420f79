"""User administration (admins only)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth import bp
from app.auth.forms import UserCreateForm, UserEditForm
from app.extensions import db
from app.models import User
from app.security import current_actor, role_required
from app.services import Refused
from app.services.users import create_user, update_user


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users() -> Response | tuple[str, int]:
    """List users and create new ones."""
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            user = create_user(form.username.data, form.role.data, form.password.data, current_actor())
            flash(f"User {user.username} created.", "success")
            return redirect(url_for("auth.users"))
        except Refused as refused:
            getattr(form, refused.field or "username").errors.append(str(refused))
    rows = db.session.scalars(sa.select(User).order_by(User.username)).all()
    return render_template("auth/users.html", users=rows, form=form), 400 if form.errors else 200


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required("admin")
def user_edit(user_id: int) -> Response | tuple[str, int]:
    """Change one user's role, active flag or password."""
    user = db.get_or_404(User, user_id, description="No such user.")
    form = UserEditForm(obj=user)
    if form.validate_on_submit():
        error = _apply_edit(user, form)
        if error is None:
            flash(f"User {user.username} updated.", "success")
            return redirect(url_for("auth.users"))
        form.role.errors.append(error)
    return render_template("auth/user_edit.html", user=user, form=form), 400 if form.errors else 200


def _apply_edit(user: User, form: UserEditForm) -> str | None:
    """Apply the form through the service (audited, committed); return an error message instead when refused."""
    if user.id == current_user.id and (form.role.data != "admin" or not form.active.data):
        return "You cannot remove your own admin role or disable yourself."
    actor = current_actor()  # read before the change: editing yourself ends your own session too
    update_user(user, form.role.data, form.active.data, form.password.data, actor, form.reason.data)
    return None
