"""The study's votes as CSV, one row per vote (``pdloss study export``, ``/admin/votes.csv``).

Raters appear as their database number, never as their token; methods by name.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

from pdloss.study.db import method_names, open_study_db
from pdloss.study.store import right_method

VOTE_COLUMNS = (
    "rater", "position", "image", "left", "right", "choice", "winner", "served_at", "voted_at", "client_ms",
)


def export_votes_csv(conn: sqlite3.Connection) -> str:
    """All votes, one row each (:data:`VOTE_COLUMNS`), ordered by rater and question position:
    rater number, question position, image stem, the methods shown left and right, the choice
    (``left``/``right``), the winning method, when the question was served and voted (Unix
    seconds), and the client's reported answer time in milliseconds (empty when not sent)."""
    names = method_names(conn)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(VOTE_COLUMNS)
    rows = conn.execute(
        "SELECT a.rater_id, a.position, i.stem, a.method_a, a.method_b, a.left_method, v.choice, v.winner, "
        "a.served_at, v.created_at, v.client_ms FROM votes v JOIN assignments a ON a.id = v.assignment_id "
        "JOIN images i ON i.id = a.image_id ORDER BY a.rater_id, a.position"
    )
    for r in rows:
        writer.writerow(
            [
                r["rater_id"],
                r["position"],
                r["stem"],
                names[r["left_method"]],
                names[right_method(r)],
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
