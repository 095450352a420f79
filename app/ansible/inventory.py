"""Parse INI/YAML inventories with ansible-core's own parsers, and build the inventory dict for a run."""

from __future__ import annotations

import datetime
import os
import re
import tempfile
from collections.abc import Mapping
from typing import Any

import yaml
from ansible.errors import AnsibleError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import EncryptedString
from ansible.plugins.loader import inventory_loader

from app.ansible.yamldata import alias_line

YAML_SUFFIXES = (".yml", ".yaml", ".json")
INI_SUFFIXES = (".ini", ".cfg", ".txt")
IMPLICIT_GROUPS = frozenset({"all", "ungrouped"})
# Variables ansible-core adds to every host itself; they would only name our temp file.
IMPLICIT_HOST_VARS = frozenset({"inventory_file", "inventory_dir"})
YAML_GROUP_KEYS = frozenset({"hosts", "vars", "children"})
# Same rule ansible-core applies to group names (C.INVALID_VARIABLE_NAMES): a Python identifier.
GROUP_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Host names are also --limit patterns: nothing Ansible reads as pattern syntax (`@file`, `a:b`, `!x`, `a&b`,
# `web*`, `~regex`, `[0:3]`, `a/b`), no control characters and no bidi overrides (a name spoofing another).
HOST_NAME_RE = re.compile(r"^[^\s,\[\]:#=@/!&*~\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]+$")
HOST_NAME_RULE = "no spaces, control characters or any of , [ ] : # = @ / ! & * ~"
MAX_PORT = 65535
# Column sizes of the hosts table: names and addresses, users.
MAX_NAME, MAX_USER = 255, 64
# An import creates at most this many hosts (Ansible expands `web[0:999999]` into a million).
MAX_HOSTS = 10_000
RANGE_RE = re.compile(r"\[([0-9]+|[a-zA-Z]):([0-9]+|[a-zA-Z])(?::([0-9]+))?\]")
RANGE_LINE_RE = re.compile(r"^.*\[(?:[0-9]+|[a-zA-Z]):(?:[0-9]+|[a-zA-Z])(?::[0-9]+)?\].*$", re.MULTILINE)
CONTROL_CHARS_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class InventoryError(ValueError):
    """The inventory text or host/group data is not acceptable; str(exc) is shown to the user."""


def parse_inventory(text: str, filename_hint: str = "hosts") -> dict[str, Any]:
    """Parse inventory text as INI or YAML (by the hint's suffix, else by sniffing and trying both)."""
    if CONTROL_CHARS_RE.search(text):
        raise InventoryError("Not an inventory: the text contains binary or control characters")
    _check_size(text)
    errors: list[str] = []
    for fmt in _formats(text, filename_hint):
        try:
            return _parse_as(text, fmt)
        except InventoryError as exc:
            errors.append(str(exc))
    raise InventoryError(errors[0])


def _check_size(text: str) -> None:
    """Refuse text that would expand far beyond itself: YAML aliases, or host ranges over MAX_HOSTS."""
    line = alias_line(text)
    if line is not None:
        raise InventoryError(f"Line {line}: YAML aliases (*name) are not accepted in an import")
    hosts = sum(_range_size(match) for match in RANGE_LINE_RE.finditer(text))
    if hosts > MAX_HOSTS:
        raise InventoryError(
            f"The host ranges in this inventory make {hosts:,} hosts; an import takes at most {MAX_HOSTS:,}"
        )


def _range_size(line: re.Match[str]) -> int:
    """How many hosts one line's ranges ([01:50], [a:f], with an optional step) expand to."""
    size = 1
    for start, end, step in RANGE_RE.findall(line.group(0)):
        if start.isdigit() and end.isdigit():
            size *= max(0, int(end) - int(start)) // max(1, int(step or 1)) + 1
        else:
            size *= abs(ord(end[:1] or "a") - ord(start[:1] or "a")) + 1
    return size


def _formats(text: str, filename_hint: str) -> list[str]:
    """Formats to try, most likely first."""
    suffix = os.path.splitext(filename_hint or "")[1].lower()
    if suffix in YAML_SUFFIXES:
        return ["yaml"]
    if suffix in INI_SUFFIXES:
        return ["ini"]
    return ["yaml", "ini"] if _looks_like_yaml(text) else ["ini", "yaml"]


class _AnyTagLoader(yaml.SafeLoader):
    """SafeLoader that accepts Ansible's custom tags (!vault, !unsafe) as null, for shape checks only."""


_AnyTagLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _load_yaml(text: str) -> Any:
    """Load YAML for sniffing/shape checks; raises yaml.YAMLError."""
    return yaml.load(text, Loader=_AnyTagLoader)  # noqa: S506 - a SafeLoader subclass


def _looks_like_yaml(text: str) -> bool:
    """True if the text is a YAML mapping (INI inventories almost never are)."""
    try:
        return isinstance(_load_yaml(text), dict)
    except yaml.YAMLError:
        return False


def _parse_as(text: str, fmt: str) -> dict[str, Any]:
    """Run ansible-core's `ini` or `yaml` inventory plugin over the text."""
    if fmt == "yaml":
        _check_yaml_shape(text)
    inventory = InventoryData()
    with tempfile.TemporaryDirectory(prefix="inventory-") as tmp:
        path = os.path.join(tmp, "hosts.yml" if fmt == "yaml" else "hosts.ini")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        # The plugins directly rather than InventoryManager: the manager would also try the
        # `script`/`auto` plugins and only *warn* on bad input, hiding the reason from the user.
        plugin = inventory_loader.get(fmt)
        try:
            plugin.parse(inventory, DataLoader(), path, cache=False)
            inventory.reconcile_inventory()
        except AnsibleError as exc:
            raise InventoryError(f"Not a valid {fmt.upper()} inventory: {_message(exc, path)}") from exc
    return _checked(_to_dict(inventory))


def _message(exc: AnsibleError, path: str) -> str:
    """Ansible's error message without our temp file's path."""
    text = str(getattr(exc, "message", None) or exc).replace(path, "inventory").strip()
    return text.removeprefix("Failed to parse inventory: ")


def _check_yaml_shape(text: str) -> None:
    """Reject YAML that ansible-core would silently skip (it only warns on stray keys)."""
    try:
        data = _load_yaml(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InventoryError(f"Not a valid YAML inventory: {exc.problem or exc}{where}") from exc
    except yaml.YAMLError as exc:
        raise InventoryError(f"Not a valid YAML inventory: {exc}") from exc
    if data is None:
        return
    if not isinstance(data, dict):
        raise InventoryError("Not a valid YAML inventory: the top level must be a mapping of group names")
    for name, group in data.items():
        _check_yaml_group(str(name), group)


def _check_yaml_group(name: str, group: Any) -> None:
    """Check one YAML group (and its children) has only hosts/vars/children mappings."""
    if group is None:
        return
    if not isinstance(group, dict):
        raise InventoryError(f"Not a valid YAML inventory: group {name!r} must be a mapping, not {_kind(group)}")
    for key in YAML_GROUP_KEYS:
        if group.get(key) is not None and not isinstance(group[key], dict):
            raise InventoryError(
                f"Not a valid YAML inventory: {key!r} of group {name!r} must be a mapping, not {_kind(group[key])}"
            )
    unknown = sorted(str(k) for k in group if k not in YAML_GROUP_KEYS)
    if unknown:
        raise InventoryError(
            f"Not a valid YAML inventory: group {name!r} has unexpected key(s) {', '.join(unknown)} "
            "(only hosts, vars and children are allowed)"
        )
    children = group.get("children")
    for child, sub in children.items() if isinstance(children, dict) else ():
        _check_yaml_group(str(child), sub)


def _kind(value: Any) -> str:
    """A YAML-ish name for a value's type, for error messages."""
    return {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _to_dict(inventory: InventoryData) -> dict[str, Any]:
    """Our plain-dict shape of a parsed inventory, without the implicit groups and all-level vars."""
    hosts = {
        name: {"vars": _plain_vars(host.vars, f"host {name!r}", skip=IMPLICIT_HOST_VARS)}
        for name, host in inventory.hosts.items()
    }
    groups = {
        name: {
            "hosts": [h.name for h in group.hosts],
            "vars": _plain_vars(group.vars, f"group {name!r}"),
            "children": [c.name for c in group.child_groups],
        }
        for name, group in inventory.groups.items()
        if name not in IMPLICIT_GROUPS
    }
    return {"hosts": hosts, "groups": groups}


def _checked(parsed: dict[str, Any]) -> dict[str, Any]:
    """The parsed inventory if every name and port is one the forms would accept, else InventoryError."""
    for name, data in parsed["hosts"].items():
        _valid_host_name(name)
        host_vars = data["vars"]
        if host_vars.get("ansible_port") is not None:
            host_vars["ansible_port"] = valid_port(host_vars["ansible_port"], f"host {name[:60]!r}")
        for var, longest in (("ansible_host", MAX_NAME), ("ansible_user", MAX_USER)):
            if len(str(host_vars.get(var) or "")) > longest:
                raise InventoryError(f"host {name[:60]!r}: {var} is longer than {longest} characters")
    for name in parsed["groups"]:
        _valid_group_name(name)
    return parsed


def valid_port(value: Any, where: str) -> int:
    """A TCP port number from an int or digit string, else InventoryError naming where."""
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= MAX_PORT:
        raise InventoryError(f"{where}: ansible_port must be a whole number from 1 to {MAX_PORT}, not {text[:20]!r}")
    return int(text)


def check_limit(limit: str | None) -> str | None:
    """The limit if it is host patterns only; a part naming a file (`@path`) raises InventoryError."""
    for part in re.split(r"[,:]", limit or ""):
        if part.strip().lstrip("!&").startswith("@"):
            raise InventoryError(f"Limit {part.strip()!r}: a limit is host names or patterns, not a file (@...)")
    return limit


def is_host_name(name: str) -> bool:
    """True when `name` is usable as a host name and as an exact --limit pattern."""
    return bool(HOST_NAME_RE.match(name))


def _plain_vars(variables: Mapping[str, Any], where: str, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Vars as plain JSON-able Python values (ansible-core 2.19 hands out tagged subclasses)."""
    return {str(k): _plain(v, f"{where}, variable {k!r}") for k, v in variables.items() if k not in skip}


def _plain(value: Any, where: str) -> Any:
    """Convert one (possibly tagged) value to plain dict/list/str/int/float/bool/None."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, EncryptedString):
        raise InventoryError(f"Vault-encrypted values are not supported ({where})")
    if isinstance(value, Mapping):
        return {str(k): _plain(v, where) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v, where) for v in value]
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    return str(value)


def build_inventory(hosts: list[dict[str, Any]], groups: dict[str, list[str]]) -> dict[str, Any]:
    """Build the YAML-inventory dict for RunSpec from host records and {group: [host names]}."""
    host_entries: dict[str, dict[str, Any]] = {}
    for host in hosts:
        name = _valid_host_name(host.get("name"))
        if name in host_entries:
            raise InventoryError(f"Duplicate host name {name!r}")
        host_entries[name] = _host_vars(host)
    children = {group: _group_entry(group, members, host_entries) for group, members in groups.items()}
    inventory: dict[str, Any] = {"hosts": host_entries}
    if children:
        inventory["children"] = children
    return {"all": inventory}


def _group_entry(group: str, members: list[str], hosts: dict[str, Any]) -> dict[str, Any]:
    """One group of the YAML inventory; its members must be known hosts."""
    _valid_group_name(group)
    missing = [m for m in members if m not in hosts]
    if missing:
        raise InventoryError(f"Group {group!r} lists unknown host(s): {', '.join(map(str, missing))}")
    return {"hosts": {m: None for m in members}}


def _host_vars(host: dict[str, Any]) -> dict[str, Any]:
    """A host's inventory vars; the explicit address/port/user fields win over same-named vars."""
    result = dict(host.get("vars") or {})
    result["ansible_host"] = host.get("address") or host["name"]
    if host.get("port") is not None:
        result["ansible_port"] = int(host["port"])
    if host.get("user"):
        result["ansible_user"] = host["user"]
    return result


def _valid_host_name(name: Any) -> str:
    """Return name if Ansible can use it as an inventory host name, else raise InventoryError."""
    if not isinstance(name, str) or not HOST_NAME_RE.match(name) or len(name) > MAX_NAME:
        raise InventoryError(f"Invalid host name {str(name)[:60]!r}: at most {MAX_NAME} characters, {HOST_NAME_RULE}")
    return name


def _valid_group_name(name: Any) -> str:
    """Return name if it is a valid, non-reserved Ansible group name, else raise InventoryError."""
    if not isinstance(name, str) or not GROUP_NAME_RE.match(name) or len(name) > MAX_NAME:
        raise InventoryError(
            f"Invalid group name {str(name)[:60]!r}: at most {MAX_NAME} letters, digits and underscores, "
            "not starting with a digit"
        )
    if name in IMPLICIT_GROUPS:
        raise InventoryError(f"Group name {name!r} is reserved by Ansible")
    return name
