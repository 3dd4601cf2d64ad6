"""The study's Flask application: the factory and the guards every request passes.

The pages and endpoints are the blueprint of :mod:`pdloss.study.routes`; the database work is in
:mod:`pdloss.study.store`, the votes' CSV in :mod:`pdloss.study.export` and the per-client limit in
:mod:`pdloss.study.ratelimit`.

Rules the routes keep:

* A rater is a random token in an HttpOnly cookie; the database stores only its SHA-256. Every
  question has its own random token, bound to its rater: a rater can see and answer only their
  own questions, and never learns another rater's tokens or the methods behind the images.
* ``POST /vote`` validates everything before writing; a malformed request gets a 4xx and writes
  nothing. The vote is committed (WAL, fsync) before the 303 answer that leads to the next
  question, so an answered vote is durable. Re-sending the same vote (a replay, a double click,
  a retry after a lost answer) is idempotent: it is answered as a success with
  ``X-Vote: duplicate`` and counts once; a different choice for an answered question is a 409.
* Images are looked up by question token and side, never by a client-supplied path, and are
  read only from the study's crop folder.
* Request bodies are capped (``MAX_CONTENT_LENGTH``) and each client address has a token-bucket
  rate limit (429 with ``Retry-After`` when exceeded).
* Admin pages need the admin token (``?token=`` or ``Authorization: Bearer``).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from flask import Flask, Response, abort, g, request
from jinja2 import DictLoader
from werkzeug.exceptions import HTTPException

from pdloss.study.ratelimit import RateLimiter
from pdloss.study.routes import SETTINGS_KEY, bp
from pdloss.study.store import read_settings
from pdloss.study.templates import TEMPLATES

MAX_BODY_BYTES = 4096


def create_app(
    folder: str | Path,
    admin_token: str | None = None,
    rate_limit: float = 50.0,
    secure_cookie: bool = False,
) -> Flask:
    """Build the Flask app for the study in ``folder``.

    Args:
        folder: the study folder (made by :func:`pdloss.study.design.create_study`).
        admin_token: token of the admin pages; a random one when ``None`` (``app.config["ADMIN_TOKEN"]``).
        rate_limit: requests per second per client address (bursts of twice that); 0 disables.
        secure_cookie: mark the rater cookie ``Secure`` (when served behind HTTPS).
    """
    folder = Path(folder).resolve()
    settings = read_settings(folder)
    app = Flask("pdloss.study")
    app.jinja_loader = DictLoader(TEMPLATES)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES,
        MAX_FORM_PARTS=8,
        ADMIN_TOKEN=admin_token or secrets.token_urlsafe(18),
        STUDY_FOLDER=str(folder),
        STUDY_SECURE_COOKIE=secure_cookie,
    )
    app.extensions[SETTINGS_KEY] = settings
    _add_guards(app, RateLimiter(rate_limit), settings.title)
    app.register_blueprint(bp)
    return app


def _add_guards(app: Flask, limiter: RateLimiter, title: str) -> None:
    """The hooks around every request: rate limit and body cap before, security headers after,
    plain-text errors, and the page title and CSP nonce for the templates."""

    @app.before_request
    def _limits():
        g.csp_nonce = secrets.token_urlsafe(12)
        if request.endpoint == "study.health":
            return None
        if not limiter.allow(request.remote_addr or "?"):
            response = Response("429 Too Many Requests: slow down\n", 429, mimetype="text/plain")
            response.headers["Retry-After"] = "1"
            return response
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            abort(413)
        return None

    @app.context_processor
    def _common():
        return {"csp_nonce": g.get("csp_nonce", ""), "title": title}

    @app.after_request
    def _headers(response):
        nonce = g.get("csp_nonce", "")
        response.headers["Content-Security-Policy"] = (
            f"default-src 'none'; img-src 'self'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return Response(f"{exc.code} {exc.name}: {exc.description}\n", exc.code or 500, mimetype="text/plain")
