"""The study's SQLite database: schema, connections and write transactions.

One file ``study.sqlite`` inside the study folder holds the design (methods, images, crop
boxes), the raters, each rater's questions and the votes. It runs in WAL mode with
``synchronous=FULL``: a vote's transaction is on disk before the server answers, so neither a
killed server nor a power cut loses an acknowledged vote. Each vote's primary key is its
question, so a question can never be counted twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pdloss.errors import InputError

SCHEMA_VERSION = 1
DB_NAME = "study.sqlite"
CROPS_DIR = "crops"
REFERENCE_DIR = "reference"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE methods (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL
);
CREATE TABLE images (
    id INTEGER PRIMARY KEY,
    stem TEXT NOT NULL UNIQUE,
    x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL
);
CREATE TABLE raters (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    code TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE assignments (
    id INTEGER PRIMARY KEY,
    rater_id INTEGER NOT NULL REFERENCES raters(id),
    position INTEGER NOT NULL,
    image_id INTEGER NOT NULL REFERENCES images(id),
    method_a INTEGER NOT NULL REFERENCES methods(id),
    method_b INTEGER NOT NULL REFERENCES methods(id),
    left_method INTEGER NOT NULL REFERENCES methods(id),
    token TEXT NOT NULL UNIQUE,
    served_at REAL,
    CHECK (method_a < method_b),
    CHECK (left_method IN (method_a, method_b)),
    UNIQUE (rater_id, position),
    UNIQUE (rater_id, image_id, method_a, method_b)
);
CREATE INDEX assignments_pair ON assignments (method_a, method_b, image_id);
CREATE TABLE votes (
    assignment_id INTEGER PRIMARY KEY REFERENCES assignments(id),
    winner INTEGER NOT NULL REFERENCES methods(id),
    choice TEXT NOT NULL CHECK (choice IN ('left', 'right')),
    created_at REAL NOT NULL,
    client_ms INTEGER
);
"""


def db_path(folder: str | Path) -> Path:
    """The database file of the study in ``folder``."""
    return Path(folder) / DB_NAME


def connect(path: str | Path) -> sqlite3.Connection:
    """Open the database in autocommit mode (transactions are explicit, see :func:`transaction`)."""
    conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA foreign_keys = ON")
    # FULL: the WAL is fsynced at every commit, so an acknowledged vote survives a power cut too.
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def open_study_db(folder: str | Path) -> sqlite3.Connection:
    """Connect to an existing study's database, checking that it is one and of this version."""
    path = db_path(folder)
    if not path.is_file():
        raise InputError(f"no study in {folder}: {DB_NAME} not found (create one with `pdloss study create`)")
    conn = connect(path)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise InputError(f"{path} is not a pdloss study database: {exc}") from exc
    if row is None or int(row[0]) != SCHEMA_VERSION:
        conn.close()
        raise InputError(f"{path} has schema version {row and row[0]}, this pdloss reads {SCHEMA_VERSION}")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception).

    IMMEDIATE takes the write lock at the start, so two concurrent writers queue on the busy
    timeout instead of failing half-way with a lock upgrade error.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    """The study's key/value settings (name, crop, questions per rater, seed, ...)."""
    return {row["key"]: row["value"] for row in conn.execute("SELECT key, value FROM meta")}


def method_names(conn: sqlite3.Connection) -> dict[int, str]:
    """Method id -> name, in id order (the order given to ``study create``)."""
    return {row["id"]: row["name"] for row in conn.execute("SELECT id, name FROM methods ORDER BY id")}
