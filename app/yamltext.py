"""YAML/JSON text from forms: variables must be a mapping of plain data; errors name the line or the key."""

from __future__ import annotations

import datetime
from typing import Any

import yaml

from app.ansible.yamldata import DataLoader

# Text fields of YAML (variables, extra vars) are at most this long.
MAX_YAML_TEXT = 64 * 1024


class YamlTextError(ValueError):
    """The text is not a valid mapping; the message says where."""


def load_data(text: str, what: str) -> Any:
    """Parse YAML (or JSON) without aliases; YamlTextError names the line."""
    try:
        return yaml.load(text, Loader=DataLoader)  # noqa: S506 (DataLoader is a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" on line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlTextError(f"{what}: invalid YAML/JSON{where}: {problem}.") from None


def parse_mapping(text: str | None, what: str = "Variables") -> dict[str, Any]:
    """Parse YAML (or JSON, which is YAML) into a dict of plain data; empty text is an empty dict."""
    if not text or not text.strip():
        return {}
    if len(text) > MAX_YAML_TEXT:
        raise YamlTextError(f"{what}: at most {MAX_YAML_TEXT // 1024} KiB of text.")
    value = load_data(text, what)
    if not isinstance(value, dict):
        raise YamlTextError(
            f"{what} must be a mapping of names to values, like "
            f'“key: value” or {{"key": "value"}}, not a {type(value).__name__}.'
        )
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise YamlTextError(f"{what}: every name must be text; {bad[0]!r} is not.")
    check_plain(value, what)
    return value


def check_plain(value: Any, where: str) -> None:
    """Raise YamlTextError naming the key of the first value JSON cannot hold (dates, bytes, sets, ...)."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_plain(item, f"{where}: {key}" if ": " not in where else f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_plain(item, f"{where}[{index}]")
    elif isinstance(value, datetime.date):
        raise YamlTextError(f"{where} is a date; write it in quotes to keep it as text.")
    elif not isinstance(value, str | int | float | bool | type(None)):
        raise YamlTextError(f"{where}: a {type(value).__name__} value is not accepted (text, numbers, lists, maps).")


def dump_mapping(value: dict[str, Any] | None) -> str:
    """Show a mapping back as YAML for editing."""
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False) if value else ""
