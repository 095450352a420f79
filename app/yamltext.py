"""YAML/JSON text from forms: variables must be a mapping; errors name the line."""

from __future__ import annotations

from typing import Any

import yaml


class YamlTextError(ValueError):
    """The text is not a valid mapping; the message says where."""


def parse_mapping(text: str | None, what: str = "Variables") -> dict[str, Any]:
    """Parse YAML (or JSON, which is YAML) into a dict; empty text is an empty dict."""
    if not text or not text.strip():
        return {}
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" on line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlTextError(f"{what}: invalid YAML/JSON{where}: {problem}.") from None
    if not isinstance(value, dict):
        raise YamlTextError(
            f"{what} must be a mapping of names to values, like "
            f'“key: value” or {{"key": "value"}}, not a {type(value).__name__}.'
        )
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise YamlTextError(f"{what}: every name must be text; {bad[0]!r} is not.")
    return value


def dump_mapping(value: dict[str, Any] | None) -> str:
    """Show a mapping back as YAML for editing."""
    return yaml.safe_dump(value, sort_keys=False, default_flow_style=False) if value else ""
