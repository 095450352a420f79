"""Jinja filters shared by every template."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import Flask


def register(app: Flask) -> None:
    """Add the filters to the app's Jinja environment."""
    zone = ZoneInfo(app.config["CELERY_TIMEZONE"])

    @app.template_filter("dt")
    def format_datetime(value: datetime | None) -> str:
        """A timestamp in the configured time zone, to the second."""
        if value is None:
            return ""
        if value.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
