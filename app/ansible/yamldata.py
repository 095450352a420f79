"""YAML that people type is plain data: PyYAML's safe loader, without aliases."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import Node


class _AliasError(yaml.YAMLError):
    """An alias (*name) was found: one line could expand to gigabytes (a "billion laughs")."""

    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__()
        self.problem_mark, self.problem = mark, "aliases (*name) are not accepted"


class DataLoader(yaml.SafeLoader):
    """PyYAML's safe loader without aliases."""

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        """Refuse an alias before it is expanded."""
        if self.check_event(yaml.AliasEvent):
            raise _AliasError(self.peek_event().start_mark)
        return super().compose_node(parent, index)


def alias_line(text: str) -> int | None:
    """The line (from 1) of the first alias in `text`; None without one, or when the text is no YAML at all."""
    try:
        for event in yaml.parse(text, Loader=DataLoader):
            if isinstance(event, yaml.AliasEvent) and event.start_mark is not None:
                return int(event.start_mark.line) + 1
    except yaml.YAMLError:
        return None
    return None
