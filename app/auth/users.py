"""User administration (admins only)."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from app.auth import bp
from app.auth.forms import UserCreateForm, UserEditForm
from app.extensions import db
from app.models import User
from app.models.audit import audit
from app.security import role_required


def get_user_or_404(user_id: int) -> User:
    """The user with this id, or 404."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404, description="No such user.")
    return user


@bp.route("/users", methods=["GET", "POST"])
@role_required("admin")
def users() -> Response | tuple[str, int]:
    """List users and create new ones."""
    form = UserCreateForm()
    if form.validate_on_submit():
        if User.by_username(form.username.data):
            form.username.errors.append("That username is taken.")
        else:
            user = User(username=form.username.data, role=form.role.data)
            user.set_password(form.password.data)
            db.session.add(user)
            audit("user.create", target=user.username, role=user.role)
            db.session.commit()
            flash(f"User {user.username} created.", "success")
            return redirect(url_for("auth.users"))
    rows = db.session.scalars(sa.select(User).order_by(User.username)).all()
    return render_template("auth/users.html", users=rows, form=form), 400 if form.errors else 200


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@role_required("admin")
def user_edit(user_id: int) -> Response | tuple[str, int]:
    """Change one user's role, active flag or password."""
    user = get_user_or_404(user_id)
    form = UserEditForm(obj=user)
    if form.validate_on_submit():
        error = _apply_edit(user, form)
        if error is None:
            db.session.commit()
            flash(f"User {user.username} updated.", "success")
            return redirect(url_for("auth.users"))
        form.role.errors.append(error)
    return render_template("auth/user_edit.html", user=user, form=form), 400 if form.errors else 200


def _apply_edit(user: User, form: UserEditForm) -> str | None:
    """Apply the form to the user and audit it; return an error message instead when refused."""
    if user.id == current_user.id and (form.role.data != "admin" or not form.active.data):
        return "You cannot remove your own admin role or disable yourself."
    changes = {k: getattr(form, k).data for k in ("role", "active") if getattr(user, k) != getattr(form, k).data}
    user.role, user.active = form.role.data, form.active.data
    if form.password.data:
        user.set_password(form.password.data)
        changes["password"] = "changed"
    audit("user.update", target=user.username, reason=form.reason.data, **changes)
    return None
