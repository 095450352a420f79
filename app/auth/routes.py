"""Log in and out."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from app.auth import bp
from app.auth.forms import LoginForm
from app.auth.throttle import per_account, per_address
from app.extensions import db
from app.models import User
from app.models.audit import audit
from app.security import current_actor, end_session, safe_next, start_session
from app.timeutil import utcnow


@bp.route("/login", methods=["GET", "POST"])
@per_account
@per_address
def login() -> Response | str | tuple[str, int]:
    """Show the login form; on success go to the (validated) next page."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        user = User.authenticate(form.username.data, form.password.data)
        if user is None:
            audit("auth.login_failed", current_actor(), target=form.username.data)
            db.session.commit()
            flash("Wrong username or password.", "error")
            return render_template("auth/login.html", form=form), 401
        start_session(user, remember=form.remember.data)
        user.last_login_at = utcnow()
        audit("auth.login", current_actor(), target=user.username)
        db.session.commit()
        return redirect(safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
@login_required
def logout() -> Response:
    """End every session of this user (POST only, so it is CSRF-protected)."""
    audit("auth.logout", current_actor(), target=current_user.username)
    end_session()
    db.session.commit()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))
