"""Load test of the real server on loopback: 50 concurrent raters, a SIGKILL mid-run, a restart.

Each simulated rater joins, answers its questions as fast as the server lets it (GET the
question, POST the vote over a keep-alive connection), and joins again as a new rater when done.
A vote counts as acknowledged when the server answered it with 303 and ``X-Vote``. After
``PHASE_S`` seconds the server is killed with SIGKILL (no shutdown at all), restarted on the same
port, and the raters carry on (retrying whatever was in flight) for another ``PHASE_S`` seconds.
Afterwards every acknowledged vote must be in the database exactly once, with its choice, and
nothing may be in the database that was never sent. One acknowledged vote in ten is replayed at
once and must be answered as a duplicate, and no request may fail while the server is up.
"""

from __future__ import annotations

import http.client
import os
import sqlite3
import subprocess
import sys
import threading
import time

from pdloss.study.db import db_path
from study.support import TOKEN_RE, RaterClient, Server, free_port, make_study

RATERS = 50
PHASE_S = 6.0


class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.acked: dict[str, str] = {}  # token -> choice, acknowledged by the server
        self.sent: dict[str, str] = {}  # token -> choice, every vote sent (acknowledged or not)
        self.duplicates = 0
        self.replays = 0
        self.errors = 0
        self.errors_while_up: list[str] = []
        self.generation = 0  # bumped when the server is killed
        self.server_up = threading.Event()
        self.raters = 0


def rater_loop(port: int, stop: threading.Event, tally: Tally, seed: int) -> None:
    import random

    rng = random.Random(seed)
    client = RaterClient(port, timeout=10)
    pending: tuple[str, str] | None = None  # a vote sent but not acknowledged: re-sent as is
    while not stop.is_set():
        # A request counts as failing "while up" only if the server was up when it began and was
        # not killed before it ended: a request in flight at the SIGKILL may hang until its timeout.
        up_at_start, generation = tally.server_up.is_set(), tally.generation
        try:
            if client.cookie is None:
                status, _, _ = client.request("POST", "/start")
                if status != 303:
                    raise RuntimeError(f"start: {status}")
                with tally.lock:
                    tally.raters += 1
            if pending is None:
                status, headers, body = client.request("GET", "/q")
                if status == 303 and headers["location"].endswith("/done"):
                    client.cookie = None  # finished: come back as a new rater
                    continue
                if status != 200:
                    raise RuntimeError(f"question: {status}")
                pending = (TOKEN_RE.search(body).group(1), rng.choice(("left", "right")))
                with tally.lock:
                    tally.sent[pending[0]] = pending[1]
            token, choice = pending
            status, headers, _ = client.request("POST", "/vote", {"token": token, "choice": choice})
            if status != 303 or headers.get("x-vote") not in ("recorded", "duplicate"):
                raise RuntimeError(f"vote: {status}")
            pending = None
            with tally.lock:
                tally.acked[token] = choice
                tally.duplicates += headers["x-vote"] == "duplicate"
            if rng.random() < 0.1:  # a replay of the acknowledged vote must count once
                status, headers, _ = client.request("POST", "/vote", {"token": token, "choice": choice})
                if status != 303 or headers.get("x-vote") != "duplicate":
                    raise RuntimeError(f"replay: {status} {headers.get('x-vote')}")
                with tally.lock:
                    tally.replays += 1
        except (OSError, RuntimeError, AttributeError, http.client.HTTPException) as exc:
            with tally.lock:
                tally.errors += 1
                if up_at_start and generation == tally.generation and tally.server_up.is_set():  # a bug
                    tally.errors_while_up.append(repr(exc))
            time.sleep(0.05)  # the server is down or restarting: retry
    client.close()


def test_concurrent_raters_survive_sigkill(tmp_path):
    folder = make_study(tmp_path, methods=("A", "B", "C", "D"), n_images=6, questions=20, crop=24)
    port = free_port()
    server = Server(folder, port, extra=["--rate-limit", "0", "--threads", "8"])
    server.start()
    tally = Tally()
    tally.server_up.set()
    stop = threading.Event()
    threads = [threading.Thread(target=rater_loop, args=(port, stop, tally, k), daemon=True) for k in range(RATERS)]
    try:
        t0 = time.monotonic()
        for t in threads:
            t.start()
        time.sleep(PHASE_S)
        with tally.lock:
            acked_before_kill = len(tally.acked)
        with tally.lock:
            tally.server_up.clear()
            tally.generation += 1
        server.kill()
        killed_at = time.monotonic()
        server.start()
        restart_s = time.monotonic() - killed_at
        time.sleep(1.0)  # requests sent while it was down may still be failing
        tally.server_up.set()
        time.sleep(PHASE_S)
        stop.set()
        for t in threads:
            t.join(15)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        server.stop()
    assert not any(t.is_alive() for t in threads)

    with sqlite3.connect(db_path(folder)) as conn:
        rows = conn.execute(
            "SELECT a.token, v.choice FROM votes v JOIN assignments a ON a.id = v.assignment_id"
        ).fetchall()
        per_question = conn.execute("SELECT MAX(c) FROM (SELECT COUNT(*) c FROM votes GROUP BY assignment_id)")
        assert per_question.fetchone()[0] == 1
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = dict(rows)
    assert len(stored) == len(rows)  # one vote per question
    missing = [t for t in tally.acked if t not in stored]
    wrong = [t for t, c in tally.acked.items() if stored.get(t, c) != c]
    unsent = [t for t in stored if t not in tally.sent]
    print(
        f"\nload test: {RATERS} concurrent raters, {elapsed:.1f} s, {tally.raters} rater sessions, "
        f"{len(tally.acked)} acknowledged votes ({acked_before_kill} before SIGKILL), "
        f"{len(stored)} votes stored, {tally.replays} replays answered as duplicates, "
        f"{tally.duplicates} retries after the kill found already stored, "
        f"{tally.errors} failed requests (all while the server was down or restarting), restart {restart_s:.2f} s"
    )
    assert not missing and not wrong and not unsent
    assert not tally.errors_while_up, tally.errors_while_up[:5]
    assert tally.replays >= 20
    assert acked_before_kill >= 100 and len(tally.acked) - acked_before_kill >= 100
    # Votes committed in the instant of the kill but never acknowledged are the only extra ones.
    assert len(stored) - len(tally.acked) <= RATERS


def test_port_zero_and_werkzeug_fallback_server(tmp_path):
    # `--port 0` picks a free port and prints it; the werkzeug fallback serves a whole session.
    folder = make_study(tmp_path, methods=("A", "B"), n_images=3, questions=3, crop=16)
    env = {**os.environ, "PDLOSS_STUDY_ADMIN_TOKEN": "tok-123456"}
    cmd = [sys.executable, "-m", "pdloss", "study", "serve", str(folder), "--port", "0", "--server", "werkzeug"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first = proc.stdout.readline()
        assert "with werkzeug on http://127.0.0.1:" in first, first
        port = int(first.rsplit(":", 1)[1])
        assert proc.stdout.readline().strip() == f"raters:  http://127.0.0.1:{port}/"
        assert proc.stdout.readline().strip() == f"admin:   http://127.0.0.1:{port}/admin?token=tok-123456"
        client = RaterClient(port)
        assert client.request("POST", "/start")[0] == 303
        for _ in range(3):
            token = TOKEN_RE.search(client.request("GET", "/q")[2]).group(1)
            status, headers, _ = client.request("POST", "/vote", {"token": token, "choice": "right"})
            assert status == 303 and headers["x-vote"] == "recorded"
        status, headers, _ = client.request("GET", "/q")
        assert status == 303 and headers["location"].endswith("/done")
        client.close()
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
    with sqlite3.connect(db_path(folder)) as conn:
        assert conn.execute("SELECT COUNT(*), SUM(choice = 'right') FROM votes").fetchone() == (3, 3)
