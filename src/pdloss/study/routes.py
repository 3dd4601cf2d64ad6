"""The study's pages and endpoints, as a Flask blueprint (registered by :func:`pdloss.study.app.create_app`).

Rater pages: ``/`` (instructions), ``POST /start``, ``/q`` (the next question), ``POST /vote``,
``/image/<token>/<left|right|reference>``, ``/done``; admin pages (admin token required):
``/admin``, ``/admin/votes.csv``, ``/admin/report.<md|csv|json>``; ``/healthz``. The rules they keep
are listed in :mod:`pdloss.study.app`. Database work goes through :mod:`pdloss.study.store`.
"""

from __future__ import annotations

import hmac
import re
import secrets
import sqlite3
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, send_file, url_for

from pdloss.study import store
from pdloss.study.db import open_study_db
from pdloss.study.export import export_votes_csv
from pdloss.study.paths import crop_relpath, safe_study_file
from pdloss.study.report import build_report, format_csv, format_json, format_markdown, load_wins

RATER_COOKIE = "pdloss_rater"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
SETTINGS_KEY = "pdloss.study"  # app.extensions[SETTINGS_KEY]: the study's StudySettings

bp = Blueprint("study", __name__)


def _settings() -> store.StudySettings:
    return current_app.extensions[SETTINGS_KEY]


def _folder() -> Path:
    return Path(current_app.config["STUDY_FOLDER"])


def db() -> sqlite3.Connection:
    """This request's connection to the study database (opened on first use, closed at teardown)."""
    if "db" not in g:
        g.db = open_study_db(_folder())
    return g.db


@bp.teardown_app_request
def _close_db(_exc):
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def current_rater() -> sqlite3.Row | None:
    token = request.cookies.get(RATER_COOKIE, "")
    if not _TOKEN_RE.match(token):
        return None
    return store.rater_by_token(db(), token)


def own_question(token: str, rater_id: int) -> sqlite3.Row:
    # Unknown token and another rater's token get the same 404: nothing leaks.
    if not _TOKEN_RE.match(token):
        abort(400, "malformed question token")
    row = store.question_by_token(db(), token)
    if row is None or row["rater_id"] != rater_id:
        abort(404, "no such question for this rater")
    return row


def check_admin() -> None:
    given = request.args.get("token", "")
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        given = auth[len("Bearer ") :]
    if not hmac.compare_digest(given.encode(), current_app.config["ADMIN_TOKEN"].encode()):
        abort(403, "admin token required")


@bp.get("/healthz")
def health():
    return {"ok": True}


@bp.get("/")
def instructions():
    rater = current_rater()
    progress = store.answered_count(db(), rater["id"]) if rater is not None else None
    settings = _settings()
    return render_template(
        "instructions.html",
        questions=settings.questions_per_rater,
        has_reference=settings.has_reference,
        progress=progress,
    )


@bp.post("/start")
def start():
    if current_rater() is not None:
        return redirect(url_for(".question"), 303)
    token = secrets.token_urlsafe(24)
    settings = _settings()
    store.add_rater(db(), token, settings.questions_per_rater, settings.seed)
    response = redirect(url_for(".question"), 303)
    response.set_cookie(
        RATER_COOKIE,
        token,
        max_age=90 * 86400,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["STUDY_SECURE_COOKIE"],
    )
    return response


@bp.get("/q")
def question():
    rater = current_rater()
    if rater is None:
        return redirect(url_for(".instructions"), 303)
    row = store.next_question(db(), rater["id"])
    if row is None:
        return redirect(url_for(".done"), 303)
    settings = _settings()
    w, h = settings.sizes[row["image_id"]]
    return render_template(
        "question.html",
        token=row["token"],
        position=store.answered_count(db(), rater["id"]) + 1,
        total=store.question_count(db(), rater["id"]),
        w=w,
        h=h,
        has_reference=settings.has_reference,
    )


@bp.post("/vote")
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
    status = store.record_vote(db(), q, choice, int(ms_text) if ms_text else None)
    if status == "conflict":
        abort(409, "this question is already answered with the other choice")
    response = redirect(url_for(".question"), 303)
    response.headers["X-Vote"] = status
    return response


@bp.get("/image/<token>/<which>")
def image(token: str, which: str):
    rater = current_rater()
    if rater is None:
        abort(403, "no rater session")
    if which not in ("left", "right", "reference"):
        abort(404)
    q = own_question(token, rater["id"])
    if which == "reference":
        if not _settings().has_reference:
            abort(404)
        method_id = None
    elif which == "left":
        method_id = q["left_method"]
    else:
        method_id = store.right_method(q)
    path = safe_study_file(_folder(), crop_relpath(method_id, q["image_id"]))
    if path is None:
        abort(404)
    response = send_file(path, mimetype="image/png", max_age=3600, conditional=True)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@bp.get("/done")
def done():
    rater = current_rater()
    if rater is None:
        return redirect(url_for(".instructions"), 303)
    total = store.question_count(db(), rater["id"])
    if store.answered_count(db(), rater["id"]) < total:
        return redirect(url_for(".question"), 303)
    return render_template("done.html", total=total, code=rater["code"])


@bp.get("/admin")
def admin():
    check_admin()
    conn = db()
    names = _settings().names
    pairs = [
        {"a": names[r["method_a"]], "b": names[r["method_b"]], "assigned": r["assigned"], "votes": r["votes"]}
        for r in store.pair_progress(conn)
    ]
    return render_template(
        "admin.html",
        raters=store.rater_count(conn),
        finished=store.finished_raters(conn),
        votes=sum(p["votes"] for p in pairs),
        assigned=sum(p["assigned"] for p in pairs),
        pairs=pairs,
        admin_token=current_app.config["ADMIN_TOKEN"],
    )


@bp.get("/admin/votes.csv")
def admin_votes():
    check_admin()
    return Response(export_votes_csv(db()), mimetype="text/csv")


_REPORT_FORMATS = {
    "md": (format_markdown, "text/markdown"),
    "csv": (format_csv, "text/csv"),
    "json": (format_json, "application/json"),
}


@bp.get("/admin/report.<fmt>")
def admin_report(fmt: str):
    check_admin()
    if fmt not in _REPORT_FORMATS:
        abort(404)
    names_list, wins, info = load_wins(_folder())
    formatter, mimetype = _REPORT_FORMATS[fmt]
    return Response(formatter(build_report(names_list, wins, info)), mimetype=mimetype)
