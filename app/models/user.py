"""Users and their roles."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import Model, db
from app.timeutil import utcnow

# Ordered from least to most power: a role includes everything before it.
ROLES = ("viewer", "operator", "admin")
USERNAME_PATTERN = r"^[a-z][a-z0-9._-]{1,63}$"
MIN_PASSWORD = 10


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

    __table_args__ = (sa.CheckConstraint(f"role IN {ROLES}", name="role_known"),)

    @property
    def is_active(self) -> bool:
        """Disabled users cannot log in (Flask-Login reads this)."""
        return self.active

    def set_password(self, password: str) -> None:
        """Store a salted hash of the password, never the password."""
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"password must be at least {MIN_PASSWORD} characters")
        self.password_hash = generate_password_hash(password)

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

    def __repr__(self) -> str:
        return f"<User {self.username} ({self.role})>"
