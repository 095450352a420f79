"""The playbook catalogue: YAML files under PLAYBOOKS_DIR, and nothing outside it."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

SUFFIXES = (".yml", ".yaml")
# Folders that hold pieces of playbooks, not playbooks to run.
SKIP_DIRS = {
    "roles",
    "group_vars",
    "host_vars",
    "vars",
    "files",
    "templates",
    "tasks",
    "handlers",
    "collections",
    "library",
    "filter_plugins",
    ".git",
}


class PlaybookError(ValueError):
    """The requested playbook cannot be used; the message says why."""


@dataclass(frozen=True)
class Playbook:
    """A playbook file: its name relative to the catalogue root and its absolute path."""

    name: str
    path: Path

    def read(self) -> str:
        """The file's text."""
        return self.path.read_text(encoding="utf-8", errors="replace")

    def sha256(self) -> str:
        """A digest of the content, recorded with each run."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def list_playbooks(root: str) -> list[Playbook]:
    """Every playbook under root, once each, sorted by name; symlinks that leave root are left out."""
    base = Path(root)
    found: dict[str, Playbook] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        for filename in sorted(filenames):
            if filename.endswith(SUFFIXES):
                name = str((Path(dirpath) / filename).relative_to(base))
                try:
                    book = resolve(root, name)
                except PlaybookError:
                    continue
                found[book.name] = book
    return sorted(found.values(), key=lambda p: p.name)


def resolve(root: str, name: str) -> Playbook:
    """The playbook called `name`, refusing anything that resolves outside root."""
    if not name or "\x00" in name or os.path.isabs(name) or name.startswith("~"):
        raise PlaybookError(f"“{name}” is not a playbook name: use a path inside the playbooks folder.")
    base = Path(root).resolve()
    path = (base / name).resolve()
    if base != path and base not in path.parents:
        raise PlaybookError(f"“{name}” points outside the playbooks folder; only playbooks inside it can run.")
    if path.suffix not in SUFFIXES:
        raise PlaybookError(f"“{name}” is not a playbook (expected a .yml or .yaml file).")
    if any(part in SKIP_DIRS or part.startswith(".") for part in path.relative_to(base).parts):
        # vars files, roles' pieces and hidden files are not playbooks (and may hold secrets): not listed, not served
        raise PlaybookError(f"There is no playbook “{name}” in the playbooks folder.")
    if not path.is_file():
        raise PlaybookError(f"There is no playbook “{name}” in the playbooks folder.")
    return Playbook(name=str(path.relative_to(base)), path=path)
