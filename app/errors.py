"""Error pages inside the layout, and JSON for API-ish requests."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_limiter import RateLimitExceeded
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.sansio.response import Response as SansioResponse
from werkzeug.wrappers import Response

from app.extensions import db

TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    413: "Too large",
    429: "Too many attempts",
    500: "Something went wrong",
    502: "Not answering",
}


def render_error(code: int, message: str) -> tuple[str, int]:
    """Render the error page for `code` with a human message."""
    title = TITLES.get(code, "Error")
    return render_template("errors/error.html", code=code, title=title, message=message), code


# Everything the pages load comes from this server; no inline script, no framing.
SECURITY_HEADERS = {
    # htmx sets inline styles while swapping; scripts stay locked to our own files.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # The app uses none of these browser features; nothing it serves (Flower's pages included) may ask for them.
    "Permissions-Policy": "accelerometer=(), autoplay=(), camera=(), display-capture=(), encrypted-media=(), "
    "fullscreen=(), geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), "
    "picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), serial=(), usb=(), "
    "xr-spatial-tracking=()",
}


def _personal(response: Response) -> bool:
    """True for what a logged-in user is shown (pages, fragments): no cache, shared or not, may keep it.

    Static files are the same for everyone and keep their caching; they are checked first so that serving
    them loads no user."""
    return request.endpoint != "static" and current_user.is_authenticated


def register(app: Flask) -> None:
    """Install the handlers and the security headers on the app."""

    @app.after_request
    def security_headers(response):  # type: ignore[no-untyped-def]
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if _personal(response):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int]:
        return render_error(
            400, f"The form expired or was sent from elsewhere ({exc.description}). Reload the page and try again."
        )

    @app.errorhandler(RateLimitExceeded)
    def throttled(exc: RateLimitExceeded) -> SansioResponse | tuple[str, int]:
        # The limit's breach handler has built the page (the login form, with Retry-After).
        return exc.response or render_error(429, "Too many attempts. Wait a moment and try again.")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int] | HTTPException:
        if exc.code is None or exc.code < 400:
            return exc
        return render_error(exc.code, exc.description or "")

    @app.errorhandler(InternalServerError)
    def server_error(exc: InternalServerError) -> tuple[str, int]:
        db.session.rollback()  # the failed request must not leave a broken transaction behind
        app.logger.error("500 on %s %s", request.method, request.path)
        return render_error(500, "The error was logged. Try again, or tell an admin if it keeps happening.")
