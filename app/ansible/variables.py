"""Variables as Ansible sees them: user-typed values are data (written `!unsafe`), and `ansible_*` names are
connection and privilege settings that only admins may set."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

# `ansible_*` names change how and as whom Ansible connects and escalates (ansible_connection, ansible_ssh_args,
# ansible_become_exe, ansible_python_interpreter, ...): set by an operator, they run commands on the worker.
CONNECTION_VAR = re.compile(r"^ansible_", re.IGNORECASE)
# Values of keys like these are shown masked on pages and in job logs: a name containing one of the first
# words, or made of parts ("db_key", "api-key") one of which is one of the second.
_SECRET_IN_NAME = re.compile(r"pass(word|wd|phrase)|secret|token|credential|private_?key|api_?key", re.IGNORECASE)
_SECRET_PARTS = frozenset({"pass", "pw", "pwd", "key", "auth"})
MASK = "********"


class Unsafe(str):
    """A string Ansible must never template: written with the `!unsafe` tag."""


class _UnsafeDumper(yaml.SafeDumper):
    """YAML dumper that writes Unsafe strings with Ansible's `!unsafe` tag."""


_UnsafeDumper.add_representer(Unsafe, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value)))


def as_data(value: Any) -> Any:
    """Every string value inside `value` (not the keys) that could hold a template marked Unsafe: it stays text."""
    if isinstance(value, str):
        # Templates start with `{{`, `{%` or `{#`: a string without `{` is inert as it is. Only those with one are
        # tagged, because Ansible's `!unsafe` reads the scalar's implicit type first ('1.10' -> 1.1, 'yes' -> True).
        return Unsafe(value) if "{" in value else value
    if isinstance(value, Mapping):
        return {key: as_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_data(item) for item in value]
    return value


def dump_as_data(value: Any) -> str:
    """YAML for Ansible with every string value marked `!unsafe`."""
    return yaml.dump(as_data(value), Dumper=_UnsafeDumper, default_flow_style=False, sort_keys=False)


def connection_vars(variables: Mapping[str, Any]) -> list[str]:
    """The names in `variables` that are Ansible connection or privilege settings (sorted)."""
    return sorted(name for name in variables if CONNECTION_VAR.match(str(name)))


def changed_connection_vars(new: Mapping[str, Any], old: Mapping[str, Any] | None = None) -> list[str]:
    """The connection and privilege variables that `new` adds, changes or drops compared with `old`."""
    old = old or {}
    names = set(connection_vars(new)) | set(connection_vars(old))
    return sorted(name for name in names if new.get(name) != old.get(name) or (name in new) != (name in old))


def refusal(names: list[str], where: str) -> str:
    """The message for a non-admin who tried to set connection variables."""
    verb = "is a connection or privilege setting" if len(names) == 1 else "are connection or privilege settings"
    return f"{where}: {', '.join(names)} {verb} that only an admin may set."


def looks_secret(name: str) -> bool:
    """True for names like password, db_pass, api_token, vault-secret, ssh_key."""
    parts = re.split(r"[_\-.\s]+", name.lower())
    return bool(_SECRET_IN_NAME.search(name)) or any(part in _SECRET_PARTS for part in parts)


def secret_values(variables: Mapping[str, Any]) -> list[str]:
    """String values (at any depth) stored under secret-looking keys, longest first, for masking."""
    found: set[str] = set()
    for key, value in variables.items():
        if isinstance(value, Mapping):
            found.update(secret_values(value))
        elif isinstance(value, str | int) and looks_secret(str(key)) and len(str(value)) >= 4:
            found.add(str(value))
    return sorted(found, key=len, reverse=True)


def masked(variables: Mapping[str, Any], secrets: list[str] | None = None) -> dict[str, Any]:
    """A copy with the values of secret-looking names masked, and those values masked wherever else they appear."""
    secrets = secret_values(variables) if secrets is None else secrets
    return {key: _masked_value(key, value, secrets) for key, value in variables.items()}


def _masked_value(key: str, value: Any, secrets: list[str]) -> Any:
    """One value of `masked`."""
    if isinstance(value, Mapping):
        return masked(value, secrets)
    if looks_secret(str(key)):
        return MASK
    return mask_text(value, secrets) if isinstance(value, str) else value


def mask_text(text: str, secrets: list[str]) -> str:
    """`text` with every occurrence of each secret replaced by the mask."""
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text
