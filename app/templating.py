"""Jinja filters shared by every template."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from markupsafe import Markup

from app.ansible.ansi import ansi_to_html
from app.ansible.variables import masked
from app.timeutil import as_utc


def register(app: Flask) -> None:
    """Add the filters to the app's Jinja environment."""
    zone = ZoneInfo(app.config["CELERY_TIMEZONE"])

    @app.template_filter("dt")
    def format_datetime(value: datetime | None) -> str:
        """A timestamp in the configured time zone, to the second."""
        if value is None:
            return ""
        return as_utc(value).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")

    @app.template_filter("duration")
    def format_duration(seconds: float | None) -> str:
        """1h 02m, 3m 05s, 4.2s."""
        if seconds is None:
            return ""
        if seconds < 60:
            return f"{seconds:.1f}s"
        minutes, secs = divmod(int(seconds), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s"

    @app.template_filter("masked")
    def format_masked(variables: Mapping[str, Any]) -> dict[str, Any]:
        """Variables with the values of secret-looking names (password, token, ...) masked."""
        return masked(variables)

    @app.template_filter("ansi")
    def format_ansi(text: str) -> Markup:
        """Ansible's coloured output as escaped HTML spans."""
        return ansi_to_html(text or "")
