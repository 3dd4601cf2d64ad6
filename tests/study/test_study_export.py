"""The votes' CSV export and the vote store on their own: a database written row by row here."""

from __future__ import annotations

import sqlite3

import pytest

from pdloss.errors import InputError
from pdloss.study import store
from pdloss.study.db import SCHEMA, SCHEMA_VERSION, connect, db_path
from pdloss.study.export import export_votes, export_votes_csv


@pytest.fixture
def study(tmp_path) -> sqlite3.Connection:
    """Methods 1 'pdl', 2 'l1', 3 'ctx'; images 'cat', 'dog'; raters 1 and 2 with three questions
    (one unanswered); the votes inserted out of order so that the export's sorting shows."""
    conn = connect(db_path(tmp_path))
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
    conn.executemany("INSERT INTO methods VALUES (?, ?, 'src')", [(1, "pdl"), (2, "l1"), (3, "ctx")])
    conn.executemany("INSERT INTO images VALUES (?, ?, 0, 0, 8, 8)", [(1, "cat"), (2, "dog")])
    conn.executemany("INSERT INTO raters VALUES (?, ?, 'CODE', 0.0)", [(1, "h1"), (2, "h2")])
    conn.executemany(
        "INSERT INTO assignments (id, rater_id, position, image_id, method_a, method_b, left_method, token, served_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (1, 1, 0, 1, 1, 2, 2, "tok-a1", 10.5),  # left l1, right pdl
            (2, 1, 1, 2, 1, 3, 1, "tok-a2", 20.0),  # left pdl, right ctx
            (3, 2, 0, 2, 2, 3, 3, "tok-b1", None),  # left ctx, right l1 (never marked served)
            (4, 2, 1, 1, 1, 3, 3, "tok-b2", 40.0),  # no vote
        ],
    )
    conn.executemany(
        "INSERT INTO votes VALUES (?, ?, ?, ?, ?)",
        [(3, 2, "right", 31.25, None), (2, 1, "left", 21.0, 950), (1, 1, "right", 11.0, 1200)],
    )
    yield conn
    conn.close()


EXPECTED = (
    "rater,position,image,left,right,choice,winner,served_at,voted_at,client_ms\n"
    "1,0,cat,l1,pdl,right,pdl,10.5,11.0,1200\n"
    "1,1,dog,pdl,ctx,left,pdl,20.0,21.0,950\n"
    "2,0,dog,ctx,l1,right,l1,,31.25,\n"
)


def test_export_is_one_row_per_vote_in_rater_and_position_order(study, tmp_path):
    assert export_votes_csv(study) == EXPECTED
    assert export_votes(tmp_path) == EXPECTED


def test_export_of_a_study_without_votes_is_the_header(study, tmp_path):
    study.execute("DELETE FROM votes")
    assert export_votes(tmp_path) == EXPECTED.splitlines(keepends=True)[0]
    with pytest.raises(InputError, match="no study"):
        export_votes(tmp_path / "elsewhere")


def test_record_vote_counts_a_question_once(study, tmp_path):
    question = store.question_by_token(study, "tok-b2")
    assert store.right_method(question) == 1 and question["left_method"] == 3
    assert store.record_vote(study, question, "right", None) == "recorded"
    assert store.record_vote(study, question, "right", 5) == "duplicate"
    assert store.record_vote(study, question, "left", None) == "conflict"
    rows = study.execute("SELECT winner, choice, client_ms FROM votes WHERE assignment_id = 4").fetchall()
    assert [tuple(row) for row in rows] == [(1, "right", None)]
    last = export_votes(tmp_path).splitlines()[-1].split(",")
    assert last[:8] == ["2", "1", "cat", "ctx", "pdl", "right", "pdl", "40.0"] and last[9] == ""
    assert store.answered_count(study, 2) == 2 == store.question_count(study, 2)
    assert store.finished_raters(study) == 2 and store.next_question(study, 2) is None
