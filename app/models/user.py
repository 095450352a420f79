"""Users and their roles."""

from __future__ import annotations

import secrets
from datetime import datetime
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import Model, db
from app.timeutil import utcnow

# Ordered from least to most power: a role includes everything before it.
ROLES = ("viewer", "operator", "admin")
USERNAME_PATTERN = r"^[a-z][a-z0-9._-]{1,63}$"
MIN_PASSWORD = 12
COMMON_PASSWORDS = Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt"


def new_session_token() -> str:
    """A random per-user token: sessions and remember-me cookies name the user by it, never by id."""
    return secrets.token_urlsafe(32)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (read once, on first use)."""
    return frozenset(COMMON_PASSWORDS.read_text(encoding="utf-8").split("\n")) - {""}


def password_problem(password: str) -> str | None:
    """Why this password is refused (too short, or too common), or None when it is acceptable."""
    if len(password) < MIN_PASSWORD:
        return f"The password must be at least {MIN_PASSWORD} characters long."
    if password.strip().lower() in common_passwords():
        return "That password is on the list of common passwords; choose another."
    return None


@cache
def _dummy_hash() -> str:
    """A hash made like real ones, checked when the username is unknown so that path costs the same."""
    return generate_password_hash(secrets.token_urlsafe(16))


class User(UserMixin, Model):
    """A person who logs in; role is viewer, operator or admin."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(256))
    role: Mapped[str] = mapped_column(sa.String(16), default="viewer")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Replaced whenever the user's sessions must end (logout, new password, new role, disabled).
    session_token: Mapped[str] = mapped_column(sa.String(64), unique=True, default=new_session_token)

    __table_args__ = (sa.CheckConstraint(f"role IN {ROLES}", name="role_known"),)

    @property
    def is_active(self) -> bool:
        """Disabled users cannot log in (Flask-Login reads this)."""
        return self.active

    def get_id(self) -> str:
        """Flask-Login's alternative id: the session token, so replacing it ends every session."""
        return self.session_token

    def login_id(self) -> str:
        """What the session and the remember-me cookie hold: the session token and the login time."""
        return f"{self.get_id()}.{int(utcnow().timestamp())}"

    def end_sessions(self) -> None:
        """End every session and remember-me cookie of this user (not committed)."""
        self.session_token = new_session_token()

    def set_password(self, password: str) -> None:
        """Store a salted hash of an acceptable password and end the user's sessions; ValueError says why not."""
        problem = password_problem(password)
        if problem:
            raise ValueError(problem)
        self.password_hash = generate_password_hash(password)
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        """True when the password matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    def has_role(self, role: str) -> bool:
        """True when this user's role is at least `role`."""
        return ROLES.index(self.role) >= ROLES.index(role)

    @classmethod
    def by_username(cls, username: str) -> User | None:
        """The user with this (case-insensitive) username, or None."""
        return db.session.scalar(sa.select(cls).where(cls.username == username.strip().lower()))

    @classmethod
    def authenticate(cls, username: str, password: str) -> User | None:
        """The active user with this name and password, or None; an unknown name costs a hash check too."""
        user = cls.by_username(username)
        if user is None:
            check_password_hash(_dummy_hash(), password)
            return None
        return user if user.check_password(password) and user.active else None

    @classmethod
    def by_login_id(cls, login_id: str, max_age: float) -> User | None:
        """The active user a login id names, or None when the token is stale or the login older than max_age."""
        token, _, started = login_id.rpartition(".")
        if not token or not started.isdigit() or utcnow().timestamp() - int(started) > max_age:
            return None
        user = db.session.scalar(sa.select(cls).where(cls.session_token == token))
        return user if user is not None and user.active else None

    def __repr__(self) -> str:
        return f"<User {self.username} ({self.role})>"
