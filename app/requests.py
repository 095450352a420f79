"""What a request may carry: ids that fit the database, bounded query numbers, reasons and plain text."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask import abort, current_app, request
from flask_sqlalchemy.pagination import Pagination
from werkzeug.routing import IntegerConverter
from wtforms import Field, ValidationError
from wtforms.validators import Length, Optional

from app.extensions import db

# Database ids are signed 64-bit on PostgreSQL; a larger number in a URL is no row (404), not a 500.
MAX_ID = 2**63 - 1
MAX_REASON = 500
# List pages beyond this are refused (an OFFSET that large only costs the database).
MAX_PAGE = 100_000
# C0 controls except tab/newline, DEL, and the bidi overrides and isolates (a name could pose as another).
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: at most MAX_ID."""

    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def query_int(name: str, default: int | None, maximum: int = MAX_ID) -> int | None:
    """A whole-number query argument from 0 to `maximum`; 400 naming it otherwise."""
    raw = request.args.get(name, "")
    if raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw[:25]) > maximum:
        abort(400, description=f"?{name}= must be a whole number from 0 to {maximum}.")
    return int(raw)


def paginate(query: sa.Select[Any]) -> Pagination:
    """The ?page= (bounded) of `query`, PER_PAGE rows; past the last page it is empty, not an error."""
    page = query_int("page", 1, MAX_PAGE)
    return db.paginate(query, page=page, per_page=current_app.config["PER_PAGE"], error_out=False)


def form_reason() -> str | None:
    """The optional `reason` of a posted button; 400 when it is too long or not plain text."""
    reason = (request.form.get("reason") or "").strip()
    if len(reason) > MAX_REASON or _UNPRINTABLE.search(reason):
        abort(400, description=f"A reason is plain text of at most {MAX_REASON} characters.")
    return reason or None


def plain_text(_form: Any, field: Field) -> None:
    """WTForms validator: no control characters or text-direction overrides."""
    if isinstance(field.data, str) and _UNPRINTABLE.search(field.data):
        raise ValidationError("Control characters and text-direction overrides are not allowed here.")


REASON_VALIDATORS = [Optional(), Length(max=MAX_REASON), plain_text]
