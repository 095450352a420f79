"""Pages whose lists refresh themselves: one view answers the full page, or just the polled block."""

from __future__ import annotations

from typing import Any

from flask import make_response, render_template, request
from flask_htmx.constants import HTMX_STOP_POLLING  # 286: htmx cancels an `every` trigger on it
from jinja2_fragments.flask import render_block
from werkzeug.wrappers import Response

from app.extensions import htmx


def page_or_fragment(template: str, block: str, keep_polling: bool, **context: Any) -> Response:
    """The page, or (for htmx's `?fragment=<block>` poll) that block alone, 286 once nothing changes."""
    if htmx and request.args.get("fragment") == block:
        resp = make_response(render_block(template, block, **context))
        resp.status_code = 200 if keep_polling else HTMX_STOP_POLLING
    else:
        resp = make_response(render_template(template, **context))
    resp.vary.add("HX-Request")
    return resp
