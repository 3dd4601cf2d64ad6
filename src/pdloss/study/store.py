"""The queries the study app runs: raters, their questions, votes and the admin counts.

Every function takes an open connection (:func:`pdloss.study.db.open_study_db`); the writes
(:func:`add_rater`, :func:`record_vote`) run in their own ``BEGIN IMMEDIATE`` transaction, so a
vote is on disk when the function returns. Nothing here knows about HTTP.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pdloss.study.assign import assign_questions
from pdloss.study.db import method_names, open_study_db, read_meta, transaction

VoteStatus = Literal["recorded", "duplicate", "conflict"]


@dataclass(frozen=True)
class StudySettings:
    """What the app reads once from a study's database: its title, questions per rater, the seed
    of the question sets, whether a reference image is shown, method names by id and each image's
    crop size ``(w, h)`` by id."""

    title: str
    questions_per_rater: int
    seed: int
    has_reference: bool
    names: dict[int, str]
    sizes: dict[int, tuple[int, int]]


def read_settings(folder: str | Path) -> StudySettings:
    """The :class:`StudySettings` of the study in ``folder`` (its folder name is the default title)."""
    conn = open_study_db(folder)
    try:
        meta = read_meta(conn)
        names = method_names(conn)
        sizes = {r["id"]: (r["w"], r["h"]) for r in conn.execute("SELECT id, w, h FROM images")}
    finally:
        conn.close()
    return StudySettings(
        title=meta.get("title", Path(folder).name),
        questions_per_rater=int(meta["questions_per_rater"]),
        seed=int(meta.get("seed", "0")),
        has_reference=meta.get("has_reference") == "1",
        names=names,
        sizes=sizes,
    )


def hash_token(token: str) -> str:
    """The SHA-256 (hex) of a rater token: the database never stores the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def right_method(question: sqlite3.Row) -> int:
    """The method shown on the right of a question (the pair's one that is not on the left)."""
    return question["method_b"] if question["left_method"] == question["method_a"] else question["method_a"]


def rater_by_token(conn: sqlite3.Connection, token: str) -> sqlite3.Row | None:
    """The rater (``id``, ``code``) whose token is ``token``, or None."""
    return conn.execute("SELECT id, code FROM raters WHERE token_hash = ?", (hash_token(token),)).fetchone()


def add_rater(conn: sqlite3.Connection, token: str, questions: int, seed: int) -> int:
    """A new rater known by ``token`` (stored hashed, with a random completion code) and its
    ``questions`` balanced questions (:func:`pdloss.study.assign.assign_questions`); its id."""
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO raters (token_hash, code, created_at) VALUES (?, ?, ?)",
            (hash_token(token), secrets.token_hex(4).upper(), time.time()),
        )
        rater_id = int(cur.lastrowid)
        assign_questions(conn, rater_id, questions, seed)
    return rater_id


def answered_count(conn: sqlite3.Connection, rater_id: int) -> int:
    """How many of the rater's questions have a vote."""
    return conn.execute(
        "SELECT COUNT(*) FROM votes v JOIN assignments a ON a.id = v.assignment_id WHERE a.rater_id = ?",
        (rater_id,),
    ).fetchone()[0]


def question_count(conn: sqlite3.Connection, rater_id: int) -> int:
    """How many questions the rater was assigned."""
    return conn.execute("SELECT COUNT(*) FROM assignments WHERE rater_id = ?", (rater_id,)).fetchone()[0]


def question_by_token(conn: sqlite3.Connection, token: str) -> sqlite3.Row | None:
    """The question (assignment row) whose token is ``token``, or None."""
    return conn.execute(
        "SELECT id, rater_id, image_id, method_a, method_b, left_method FROM assignments WHERE token = ?",
        (token,),
    ).fetchone()


def next_question(conn: sqlite3.Connection, rater_id: int) -> sqlite3.Row | None:
    """The rater's first unanswered question by position (``id``, ``position``, ``image_id``,
    ``token``), marked as served now if it was not before; None when all are answered."""
    row = conn.execute(
        "SELECT a.id, a.position, a.image_id, a.token FROM assignments a "
        "LEFT JOIN votes v ON v.assignment_id = a.id "
        "WHERE a.rater_id = ? AND v.assignment_id IS NULL ORDER BY a.position LIMIT 1",
        (rater_id,),
    ).fetchone()
    if row is not None:
        conn.execute(
            "UPDATE assignments SET served_at = ? WHERE id = ? AND served_at IS NULL", (time.time(), row["id"])
        )
    return row


def record_vote(
    conn: sqlite3.Connection, question: sqlite3.Row, choice: str, client_ms: int | None
) -> VoteStatus:
    """Store ``choice`` (``"left"``/``"right"``) for ``question`` unless it has a vote already:
    ``"recorded"``; the same choice again is ``"duplicate"`` (counted once), the other choice
    ``"conflict"`` (nothing written)."""
    winner = question["left_method"] if choice == "left" else right_method(question)
    with transaction(conn):
        previous = conn.execute("SELECT choice FROM votes WHERE assignment_id = ?", (question["id"],)).fetchone()
        if previous is None:
            conn.execute(
                "INSERT INTO votes (assignment_id, winner, choice, created_at, client_ms) VALUES (?, ?, ?, ?, ?)",
                (question["id"], winner, choice, time.time(), client_ms),
            )
            return "recorded"
    return "duplicate" if previous["choice"] == choice else "conflict"


def pair_progress(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    """Per method pair (``method_a``, ``method_b`` ids): questions ``assigned`` and ``votes``."""
    return conn.execute(
        "SELECT a.method_a, a.method_b, COUNT(a.id) AS assigned, COUNT(v.assignment_id) AS votes "
        "FROM assignments a LEFT JOIN votes v ON v.assignment_id = a.id GROUP BY a.method_a, a.method_b"
    ).fetchall()


def finished_raters(conn: sqlite3.Connection) -> int:
    """How many raters have answered every question they were given."""
    return conn.execute(
        "SELECT COUNT(*) FROM (SELECT a.rater_id FROM assignments a "
        "LEFT JOIN votes v ON v.assignment_id = a.id "
        "GROUP BY a.rater_id HAVING COUNT(v.assignment_id) = COUNT(a.id))"
    ).fetchone()[0]


def rater_count(conn: sqlite3.Connection) -> int:
    """How many raters have started."""
    return conn.execute("SELECT COUNT(*) FROM raters").fetchone()[0]
