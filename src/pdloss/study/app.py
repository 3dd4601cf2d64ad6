"""The study's Flask application (rater pages, vote endpoint, images, admin pages).

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

import csv
import hashlib
import hmac
import io
import re
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from pdloss.study.assign import assign_questions
from pdloss.study.db import method_names, open_study_db, read_meta, transaction
from pdloss.study.paths import crop_relpath, safe_study_file

RATER_COOKIE = "pdloss_rater"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
MAX_BODY_BYTES = 4096


class RateLimiter:
    """Token bucket per key: ``rate`` requests per second, bursts up to ``burst``; thread-safe."""

    def __init__(self, rate: float, burst: float | None = None, max_keys: int = 10_000) -> None:
        self.rate = float(rate)
        self.burst = float(burst if burst is not None else max(1.0, 2 * rate))
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            if len(self._buckets) > self.max_keys:
                # Forget the least recently seen half: memory stays bounded under address floods.
                keep = sorted(self._buckets.items(), key=lambda kv: kv[1][1])[self.max_keys // 2 :]
                self._buckets = dict(keep)
            return allowed


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_app(
    folder: str | Path,
    admin_token: str | None = None,
    rate_limit: float = 50.0,
    secure_cookie: bool = False,
):
    """Build the Flask app for the study in ``folder``.

    Args:
        folder: the study folder (made by :func:`pdloss.study.design.create_study`).
        admin_token: token of the admin pages; a random one when ``None`` (``app.config["ADMIN_TOKEN"]``).
        rate_limit: requests per second per client address (bursts of twice that); 0 disables.
        secure_cookie: mark the rater cookie ``Secure`` (when served behind HTTPS).
    """
    from flask import Flask, Response, abort, g, redirect, render_template, request, send_file, url_for
    from jinja2 import DictLoader
    from werkzeug.exceptions import HTTPException

    from pdloss.study.report import build_report, format_csv, format_json, format_markdown, load_wins
    from pdloss.study.templates import TEMPLATES

    folder = Path(folder).resolve()
    conn = open_study_db(folder)
    try:
        meta = read_meta(conn)
        names = method_names(conn)
        sizes = {r["id"]: (r["w"], r["h"]) for r in conn.execute("SELECT id, w, h FROM images")}
    finally:
        conn.close()
    title = meta.get("title", folder.name)
    per_rater = int(meta["questions_per_rater"])
    seed = int(meta.get("seed", "0"))
    has_reference = meta.get("has_reference") == "1"

    app = Flask("pdloss.study")
    app.jinja_loader = DictLoader(TEMPLATES)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        MAX_FORM_MEMORY_SIZE=MAX_BODY_BYTES,
        MAX_FORM_PARTS=8,
        ADMIN_TOKEN=admin_token or secrets.token_urlsafe(18),
        STUDY_FOLDER=str(folder),
    )
    limiter = RateLimiter(rate_limit)

    def db() -> sqlite3.Connection:
        if "db" not in g:
            g.db = open_study_db(folder)
        return g.db

    @app.teardown_appcontext
    def _close_db(_exc):
        conn = g.pop("db", None)
        if conn is not None:
            conn.close()

    def current_rater() -> sqlite3.Row | None:
        token = request.cookies.get(RATER_COOKIE, "")
        if not _TOKEN_RE.match(token):
            return None
        return (
            db().execute("SELECT id, code FROM raters WHERE token_hash = ?", (hash_token(token),)).fetchone()
        )

    def answered(rater_id: int) -> int:
        return (
            db()
            .execute(
                "SELECT COUNT(*) FROM votes v JOIN assignments a ON a.id = v.assignment_id "
                "WHERE a.rater_id = ?",
                (rater_id,),
            )
            .fetchone()[0]
        )

    def own_question(token: str, rater_id: int) -> sqlite3.Row:
        # Unknown token and another rater's token get the same 404: nothing leaks.
        if not _TOKEN_RE.match(token):
            abort(400, "malformed question token")
        row = (
            db()
            .execute(
                "SELECT id, rater_id, image_id, method_a, method_b, left_method FROM assignments "
                "WHERE token = ?",
                (token,),
            )
            .fetchone()
        )
        if row is None or row["rater_id"] != rater_id:
            abort(404, "no such question for this rater")
        return row

    def check_admin() -> None:
        given = request.args.get("token", "")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            given = auth[len("Bearer ") :]
        if not hmac.compare_digest(given.encode(), app.config["ADMIN_TOKEN"].encode()):
            abort(403, "admin token required")

    @app.before_request
    def _limits():
        g.csp_nonce = secrets.token_urlsafe(12)
        if request.endpoint == "health":
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

    @app.get("/healthz")
    def health():
        return {"ok": True}

    @app.get("/")
    def instructions():
        rater = current_rater()
        progress = answered(rater["id"]) if rater is not None else None
        return render_template(
            "instructions.html", questions=per_rater, has_reference=has_reference, progress=progress
        )

    @app.post("/start")
    def start():
        if current_rater() is not None:
            return redirect(url_for("question"), 303)
        token = secrets.token_urlsafe(24)
        with transaction(db()) as conn:
            cur = conn.execute(
                "INSERT INTO raters (token_hash, code, created_at) VALUES (?, ?, ?)",
                (hash_token(token), secrets.token_hex(4).upper(), time.time()),
            )
            assign_questions(conn, int(cur.lastrowid), per_rater, seed)
        response = redirect(url_for("question"), 303)
        response.set_cookie(
            RATER_COOKIE, token, max_age=90 * 86400, httponly=True, samesite="Lax", secure=secure_cookie
        )
        return response

    @app.get("/q")
    def question():
        rater = current_rater()
        if rater is None:
            return redirect(url_for("instructions"), 303)
        row = (
            db()
            .execute(
                "SELECT a.id, a.position, a.image_id, a.token FROM assignments a "
                "LEFT JOIN votes v ON v.assignment_id = a.id "
                "WHERE a.rater_id = ? AND v.assignment_id IS NULL ORDER BY a.position LIMIT 1",
                (rater["id"],),
            )
            .fetchone()
        )
        if row is None:
            return redirect(url_for("done"), 303)
        total = (
            db().execute("SELECT COUNT(*) FROM assignments WHERE rater_id = ?", (rater["id"],)).fetchone()[0]
        )
        db().execute(
            "UPDATE assignments SET served_at = ? WHERE id = ? AND served_at IS NULL",
            (time.time(), row["id"]),
        )
        w, h = sizes[row["image_id"]]
        return render_template(
            "question.html",
            token=row["token"],
            position=answered(rater["id"]) + 1,
            total=total,
            w=w,
            h=h,
            has_reference=has_reference,
        )

    @app.post("/vote")
    def vote():
        rater = current_rater()
        if rater is None:
            abort(403, "no rater session: open the study's start page first")
        if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            abort(415, "votes are posted as a form")
        form = request.form
        token = form.get("token", "")
        choice = form.get("choice", "")
        ms_text = form.get("ms", "")
        if choice not in ("left", "right"):
            abort(400, "choice must be 'left' or 'right'")
        if ms_text and not (ms_text.isdigit() and len(ms_text) <= 9):
            abort(400, "ms must be a non-negative integer")
        q = own_question(token, rater["id"])
        right = q["method_b"] if q["left_method"] == q["method_a"] else q["method_a"]
        winner = q["left_method"] if choice == "left" else right
        with transaction(db()) as conn:
            previous = conn.execute("SELECT choice FROM votes WHERE assignment_id = ?", (q["id"],)).fetchone()
            if previous is None:
                conn.execute(
                    "INSERT INTO votes (assignment_id, winner, choice, created_at, client_ms) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (q["id"], winner, choice, time.time(), int(ms_text) if ms_text else None),
                )
                status = "recorded"
            elif previous["choice"] == choice:
                status = "duplicate"
            else:
                status = "conflict"
        if status == "conflict":
            abort(409, "this question is already answered with the other choice")
        response = redirect(url_for("question"), 303)
        response.headers["X-Vote"] = status
        return response

    @app.get("/image/<token>/<which>")
    def image(token: str, which: str):
        rater = current_rater()
        if rater is None:
            abort(403, "no rater session")
        if which not in ("left", "right", "reference"):
            abort(404)
        q = own_question(token, rater["id"])
        if which == "reference":
            if not has_reference:
                abort(404)
            method_id = None
        elif which == "left":
            method_id = q["left_method"]
        else:
            method_id = q["method_b"] if q["left_method"] == q["method_a"] else q["method_a"]
        path = safe_study_file(folder, crop_relpath(method_id, q["image_id"]))
        if path is None:
            abort(404)
        response = send_file(path, mimetype="image/png", max_age=3600, conditional=True)
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response

    @app.get("/done")
    def done():
        rater = current_rater()
        if rater is None:
            return redirect(url_for("instructions"), 303)
        total = (
            db().execute("SELECT COUNT(*) FROM assignments WHERE rater_id = ?", (rater["id"],)).fetchone()[0]
        )
        if answered(rater["id"]) < total:
            return redirect(url_for("question"), 303)
        return render_template("done.html", total=total, code=rater["code"])

    @app.get("/admin")
    def admin():
        check_admin()
        conn = db()
        rows = conn.execute(
            "SELECT a.method_a, a.method_b, COUNT(a.id) AS assigned, COUNT(v.assignment_id) AS votes "
            "FROM assignments a LEFT JOIN votes v ON v.assignment_id = a.id GROUP BY a.method_a, a.method_b"
        ).fetchall()
        pairs = [
            {
                "a": names[r["method_a"]],
                "b": names[r["method_b"]],
                "assigned": r["assigned"],
                "votes": r["votes"],
            }
            for r in rows
        ]
        finished = conn.execute(
            "SELECT COUNT(*) FROM (SELECT a.rater_id FROM assignments a "
            "LEFT JOIN votes v ON v.assignment_id = a.id "
            "GROUP BY a.rater_id HAVING COUNT(v.assignment_id) = COUNT(a.id))"
        ).fetchone()[0]
        return render_template(
            "admin.html",
            raters=conn.execute("SELECT COUNT(*) FROM raters").fetchone()[0],
            finished=finished,
            votes=sum(p["votes"] for p in pairs),
            assigned=sum(p["assigned"] for p in pairs),
            pairs=pairs,
            admin_token=app.config["ADMIN_TOKEN"],
        )

    @app.get("/admin/votes.csv")
    def admin_votes():
        check_admin()
        return Response(export_votes_csv(db()), mimetype="text/csv")

    @app.get("/admin/report.<fmt>")
    def admin_report(fmt: str):
        check_admin()
        formats = {
            "md": (format_markdown, "text/markdown"),
            "csv": (format_csv, "text/csv"),
            "json": (format_json, "application/json"),
        }
        if fmt not in formats:
            abort(404)
        names_list, wins, info = load_wins(folder)
        formatter, mimetype = formats[fmt]
        return Response(formatter(build_report(names_list, wins, info)), mimetype=mimetype)

    return app


def export_votes_csv(conn: sqlite3.Connection) -> str:
    """All votes, one row each: rater number (never the rater's token), question, methods, choice."""
    names = method_names(conn)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "rater",
            "position",
            "image",
            "left",
            "right",
            "choice",
            "winner",
            "served_at",
            "voted_at",
            "client_ms",
        ]
    )
    rows = conn.execute(
        "SELECT a.rater_id, a.position, i.stem, a.method_a, a.method_b, a.left_method, v.choice, v.winner, "
        "a.served_at, v.created_at, v.client_ms FROM votes v JOIN assignments a ON a.id = v.assignment_id "
        "JOIN images i ON i.id = a.image_id ORDER BY a.rater_id, a.position"
    )
    for r in rows:
        right = r["method_b"] if r["left_method"] == r["method_a"] else r["method_a"]
        writer.writerow(
            [
                r["rater_id"],
                r["position"],
                r["stem"],
                names[r["left_method"]],
                names[right],
                r["choice"],
                names[r["winner"]],
                r["served_at"],
                r["created_at"],
                r["client_ms"],
            ]
        )
    return out.getvalue()


def export_votes(folder: str | Path) -> str:
    """:func:`export_votes_csv` of the study in ``folder``."""
    conn = open_study_db(folder)
    try:
        return export_votes_csv(conn)
    finally:
        conn.close()
