"""Column types: a StrEnum stored as its plain string value and read back as the enum member."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

E = TypeVar("E", bound=StrEnum)


class StrEnumColumn(TypeDecorator[E]):
    """VARCHAR on every database; a value outside the enum fails before it reaches SQL."""

    impl = sa.String
    cache_ok = True

    def __init__(self, enum: type[E], length: int = 16) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> str | None:
        """The member's value (a bad string raises ValueError naming it)."""
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> E | None:
        """The enum member for the stored string."""
        return None if value is None else self.enum(value)


def sql_in(column: str, values: type[StrEnum]) -> str:
    """A CHECK constraint's text: `column IN ('a', 'b', ...)`."""
    return f"{column} IN ({', '.join(repr(member.value) for member in values)})"
