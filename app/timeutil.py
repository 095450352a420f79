"""Time helpers: everything is stored in UTC."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Make a stored timestamp aware: SQLite hands back naive datetimes, which we stored as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
