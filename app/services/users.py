"""Creating users and setting passwords (the Users page and `flask users` share these)."""

from __future__ import annotations

import secrets

import sqlalchemy as sa

from app.extensions import db
from app.models.audit import Actor, audit
from app.models.user import User
from app.services import Refused

BOOTSTRAP = Actor("bootstrap")


def create_user(username: str, role: str, password: str, actor: Actor) -> User:
    """A new user with a first password; Refused when the name is taken or the password weak."""
    username = username.strip().lower()
    check_username_free(username)
    user = User(username=username, role=role)
    set_password(user, password)
    db.session.add(user)
    audit("user.create", actor, target=user.username, role=role)
    db.session.commit()
    return user


def check_username_free(username: str) -> None:
    """Refused when a user already has this (case-insensitive) name."""
    if User.by_username(username):
        raise Refused("That username is taken.", field="username")


def set_password(user: User, password: str) -> None:
    """Set the password and end the user's sessions (not committed); Refused, with the reason, when it is weak."""
    try:
        user.set_password(password)
    except ValueError as exc:
        raise Refused(str(exc), field="password") from None


def change_password(user: User, password: str, actor: Actor) -> None:
    """Set a user's password, audited; every session of theirs ends."""
    set_password(user, password)
    audit("user.update", actor, target=user.username, password="changed")
    db.session.commit()


def update_user(user: User, role: str, active: bool, password: str | None, actor: Actor, reason: str | None) -> None:
    """Change role, active flag and (when given) password, audited; any change ends the user's sessions."""
    changes: dict[str, object] = {k: v for k, v in (("role", role), ("active", active)) if getattr(user, k) != v}
    if password:
        set_password(user, password)
        changes["password"] = "changed"
    user.role, user.active = role, active
    if changes:
        user.end_sessions()  # a session must not keep a role, or a login, the user no longer has
    audit("user.update", actor, target=user.username, reason=reason, **changes)
    db.session.commit()


def create_first_admin() -> str | None:
    """When there are no users, create 'admin' and return its generated password (shown once)."""
    if db.session.scalar(sa.select(sa.func.count()).select_from(User)):
        return None
    password = secrets.token_urlsafe(12)
    create_user("admin", "admin", password, BOOTSTRAP)
    return password
