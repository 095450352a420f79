"""Flower through the app: /flower/... is passed to Flower's private address for logged-in admins only.

Flower listens on loopback with basic auth; this proxy adds that auth server-side, so admins need no second
password, Flower's port stays private, and Flower's /metrics and /healthcheck (which Flower itself answers to
anyone) need an admin login like every other Flower page. Flower runs with `url_prefix = "flower"`, so paths
pass through unchanged.
"""

from __future__ import annotations

from base64 import b64encode
from collections.abc import Iterator
from http.client import HTTPConnection, HTTPException, HTTPResponse, HTTPSConnection
from urllib.parse import quote, urlsplit

from flask import current_app, request
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from werkzeug.datastructures import Headers
from werkzeug.exceptions import NotFound, RequestEntityTooLarge
from werkzeug.wrappers import Response
from wtforms import ValidationError

from app.errors import SECURITY_HEADERS, render_error
from app.extensions import csrf, db
from app.models.audit import audit
from app.ops import bp
from app.security import current_actor, role_required

# What a browser may pass on to Flower. Cookies (our session), Authorization, Host, X-Forwarded-* stay here.
REQUEST_HEADERS = (
    "Accept",
    "Accept-Language",
    "Content-Type",
    "If-Modified-Since",
    "If-None-Match",
    "X-Requested-With",
)
# What Flower may send back. Not Set-Cookie (Flower's cookies have no business on our site) nor WWW-Authenticate.
RESPONSE_HEADERS = ("Content-Type", "Content-Length", "ETag", "Last-Modified", "Location")
MAX_BODY = 64 * 1024  # Flower's forms (pool size, rate limits) are a few bytes
CHUNK = 64 * 1024
# Flower's pages load their scripts from Flower's own static files (same origin through the proxy, so 'self'
# covers them); its only inline script, workers.html's `var autorefresh = 0;` or `= 1;` (as Tornado renders it,
# whitespace squeezed), is allowed by its hash.
# Everything else stays as strict as our own pages: no other inline script, no framing, no foreign origins.
FLOWER_SCRIPT_HASHES = (
    "'sha256-Plc72SJ5jJr8U3f1AUIRpRT60gipUj+EwCvnh1JkE68='",
    "'sha256-A0YIP5A+DKoseGAUTHRoMPDkKPK5cKzfYH3mjcCKtj8='",
)
FLOWER_CSP = SECURITY_HEADERS["Content-Security-Policy"].replace(
    "script-src 'self'", "script-src 'self' " + " ".join(FLOWER_SCRIPT_HASHES)
)


class FlowerUnavailable(Exception):
    """Flower cannot be asked: not configured, not answering, or refusing our password."""


@bp.route("/flower/", defaults={"path": ""}, methods=["GET", "HEAD", "POST"])
@bp.route("/flower/<path:path>", methods=["GET", "HEAD", "POST"])
@csrf.exempt  # Flower's own script sends our token in its X-XSRFToken header; checked in _check_post
@role_required("admin")
def flower(path: str) -> Response | tuple[str, int]:
    """Pass the request to Flower and stream its answer back; a clear 502 page when it cannot answer."""
    target = upstream_target(request.path, request.query_string)
    body = _check_post() if request.method == "POST" else None
    try:
        conn, upstream = _ask_flower(target, body)
    except FlowerUnavailable as exc:
        return render_error(502, str(exc))
    response = Response(_stream(conn, upstream), status=upstream.status, headers=response_headers(upstream))
    response.headers["Content-Security-Policy"] = FLOWER_CSP
    _give_csrf_token(response)
    return response


def upstream_target(path: str, query: bytes) -> str:
    """The request target for Flower: the same path and query, re-quoted; dot segments are refused."""
    if any(segment in (".", "..") for segment in path.split("/")):
        raise NotFound()
    target = quote(path, safe="/:@!$&'()*+,;=-._~")
    return target + ("?" + quote(query.decode("latin-1"), safe="=&;%+/:@!$'()*,?-._~") if query else "")


def upstream_headers(incoming: Headers, basic_auth: str) -> dict[str, str]:
    """The browser's harmless headers plus Flower's basic auth (never the browser's cookies or credentials)."""
    headers = {name: incoming[name] for name in REQUEST_HEADERS if name in incoming}
    headers["Authorization"] = "Basic " + b64encode(basic_auth.encode()).decode()
    return headers


def response_headers(upstream: HTTPResponse) -> dict[str, str]:
    """Flower's headers worth passing on; a redirect keeps only its path, so it stays on this site."""
    headers = {name: str(upstream.headers[name]) for name in RESPONSE_HEADERS if upstream.headers.get(name)}
    if "Location" in headers:
        location = urlsplit(headers["Location"])
        headers["Location"] = location.path + (f"?{location.query}" if location.query else "")
    return headers


def _check_post() -> bytes:
    """A POST must carry our CSRF token (Flower's script sends it as X-XSRFToken); it is audited before it is sent."""
    try:
        validate_csrf(request.headers.get("X-XSRFToken"))
    except ValidationError as exc:
        raise CSRFError(exc.args[0]) from None
    if (request.content_length or 0) > MAX_BODY:
        raise RequestEntityTooLarge()
    audit("flower.post", current_actor(), target=request.path)
    db.session.commit()
    return request.get_data()


def _ask_flower(target: str, body: bytes | None) -> tuple[HTTPConnection, HTTPResponse]:
    """Send the request to Flower; the connection stays open for streaming the answer."""
    basic_auth = current_app.config["FLOWER_BASIC_AUTH"]
    if not basic_auth:
        raise FlowerUnavailable("Flower's password is not set for the web processes: set FLOWER_BASIC_AUTH.")
    conn = _connection(current_app.config["FLOWER_INTERNAL_URL"], current_app.config["FLOWER_TIMEOUT"])
    try:
        conn.request(request.method, target, body=body, headers=upstream_headers(request.headers, basic_auth))
        upstream = conn.getresponse()
    except (OSError, HTTPException) as exc:  # refused, timed out, reset: Flower is down or stuck
        conn.close()
        raise FlowerUnavailable(f"Flower did not answer ({type(exc).__name__}). Is it running?") from None
    if upstream.status == 401:
        conn.close()
        raise FlowerUnavailable(
            "Flower refused the password: give the web processes and Flower the same FLOWER_BASIC_AUTH."
        )
    return conn, upstream


def _connection(base: str, timeout: float) -> HTTPConnection:
    """A connection to Flower's internal address; a timeout on connecting and on every read."""
    parts = urlsplit(base)
    kind = HTTPSConnection if parts.scheme == "https" else HTTPConnection
    return kind(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)


def _stream(conn: HTTPConnection, upstream: HTTPResponse) -> Iterator[bytes]:
    """Flower's body chunk by chunk as it arrives; the connection closes when done or when the browser leaves."""
    try:
        while chunk := upstream.read1(CHUNK):
            yield chunk
    finally:
        conn.close()


def _give_csrf_token(response: Response) -> None:
    """Flower's script reads the `_xsrf` cookie for its POSTs: make that our CSRF token, for Flower's paths only."""
    response.set_cookie(
        "_xsrf",
        generate_csrf(),
        path="/flower/",
        samesite="Strict",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
