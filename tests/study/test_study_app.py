"""Study design, balanced assignment and the web app (Flask test client): votes, replays, double
votes, other raters' data, malformed input, path traversal, admin pages, rate limits, CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pdloss.cli import main
from pdloss.errors import InputError
from pdloss.study.app import create_app
from pdloss.study.assign import plan_questions
from pdloss.study.db import db_path
from pdloss.study.design import create_study, parse_method_spec
from pdloss.study.paths import crop_relpath, safe_study_file
from pdloss.study.ratelimit import RateLimiter
from pdloss.study.report import load_wins
from pdloss.study.routes import RATER_COOKIE
from study.support import TOKEN_RE, expected_wins, make_study, write_method_images

ADMIN = "test-admin-token"


def votes_in(folder) -> int:
    with sqlite3.connect(db_path(folder)) as conn:
        return conn.execute("SELECT COUNT(*) FROM votes").fetchone()[0]


@pytest.fixture(scope="module")
def study_template(tmp_path_factory):
    return make_study(tmp_path_factory.mktemp("template"), questions=6)


@pytest.fixture()
def study(study_template, tmp_path):
    # A fresh copy per test: building the crops once keeps the many small tests fast.
    return Path(shutil.copytree(study_template, tmp_path / "study"))


@pytest.fixture()
def app(study):
    app = create_app(study, admin_token=ADMIN, rate_limit=0)
    app.config["TESTING"] = True
    return app


def start_rater(app):
    client = app.test_client()
    resp = client.post("/start")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/q")
    return client


def current_token(client) -> str:
    resp = client.get("/q")
    assert resp.status_code == 200, resp.data
    return TOKEN_RE.search(resp.get_data(as_text=True)).group(1)


# -- design -------------------------------------------------------------------------------------


def test_create_crops_same_region_from_every_method(tmp_path):
    stems = ["a", "b", "sub/c"]
    folders = write_method_images(tmp_path, ["X", "Y"], ["a", "b"], size=(50, 70), reference=True)
    (folders["X"] / "sub").mkdir()
    (folders["Y"] / "sub").mkdir()
    (folders["reference"] / "sub").mkdir()
    for k, name in enumerate(["X", "Y", "reference"]):
        Image.fromarray(np.full((50, 70, 3), 7 * k, np.uint8)).save(folders[name] / "sub" / "c.png")
    Image.fromarray(np.zeros((50, 70, 3), np.uint8)).save(folders["X"] / "only_x.png")
    folder = tmp_path / "study"
    summary = create_study(
        folder,
        [("X", folders["X"]), ("Y", folders["Y"])],
        reference=folders["reference"],
        crop=20,
        crop_mode="random",
        questions=3,
        seed=5,
        show_progress=False,
    )
    assert summary.stems == sorted(stems) and summary.skipped == {"X": 1, "Y": 0}
    with sqlite3.connect(db_path(folder)) as conn:
        boxes = conn.execute("SELECT id, stem, x, y, w, h FROM images ORDER BY id").fetchall()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert len({(x, y) for _, _, x, y, _, _ in boxes}) > 1  # random positions differ
    for image_id, stem, x, y, w, h in boxes:
        assert (w, h) == (20, 20)
        for method_id, name in [(1, "X"), (2, "Y"), (None, "reference")]:
            src = np.asarray(Image.open(folders[name] / f"{stem}.png"))
            crop = np.asarray(Image.open(folder / crop_relpath(method_id, image_id)))
            np.testing.assert_array_equal(crop, src[y : y + h, x : x + w])


def test_create_refuses_bad_input(tmp_path):
    folders = write_method_images(tmp_path, ["A", "B"], ["s1", "s2"])
    methods = [("A", folders["A"]), ("B", folders["B"])]
    with pytest.raises(InputError, match="at least two"):
        create_study(tmp_path / "s0", methods[:1], show_progress=False)
    with pytest.raises(InputError, match="exceeds"):
        create_study(tmp_path / "s1", methods, questions=3, show_progress=False)  # 1 pair x 2 images
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(other / "zzz.png")
    with pytest.raises(InputError, match="no file stem"):
        create_study(tmp_path / "s2", [*methods, ("C", other)], show_progress=False)
    Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(other / "s1.png")
    with pytest.raises(InputError, match="differ in size"):
        create_study(tmp_path / "s3", [*methods, ("C", other)], questions=1, show_progress=False)
    create_study(tmp_path / "s4", methods, questions=2, show_progress=False)
    with pytest.raises(InputError, match="already holds a study"):
        create_study(tmp_path / "s4", methods, questions=2, show_progress=False)
    with pytest.raises(InputError, match="NAME=DIR"):
        parse_method_spec("nodir")
    with pytest.raises(InputError, match="method name"):
        parse_method_spec("<script>=x")
    assert parse_method_spec("PDL=/tmp/x")[0] == "PDL"


def test_assignment_keeps_pairs_balanced_and_questions_distinct():
    rng = __import__("random").Random(1)
    methods, images = [1, 2, 3, 4], [1, 2, 3, 4, 5]
    pair_counts, pair_image_counts = Counter(), Counter()
    for _ in range(25):
        plan = plan_questions(methods, images, 20, pair_counts, pair_image_counts, rng)
        assert len(plan) == 20 and len({(i, a, b) for i, a, b, _ in plan}) == 20
        assert all(a < b and left in (a, b) for _, a, b, left in plan)
        counts = [pair_counts[p] for p in combinations(methods, 2)]
        assert max(counts) - min(counts) <= 1
    per_pair_image = [pair_image_counts[(*p, i)] for p in combinations(methods, 2) for i in images]
    assert max(per_pair_image) - min(per_pair_image) <= 1
    lefts = Counter(
        left == a for _, a, _, left in plan_questions(methods, images, 30, Counter(), Counter(), rng)
    )
    assert lefts[True] > 5 and lefts[False] > 5


# -- rating flow --------------------------------------------------------------------------------


def test_full_rater_flow_and_report_counts(app, study):
    page = app.test_client().get("/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "1920&times;1080" in text and "Do not zoom" in text
    client = start_rater(app)
    choices = {}
    for k in range(6):
        html = client.get("/q").get_data(as_text=True)
        assert f"Question {k + 1} of 6" in html
        token = TOKEN_RE.search(html).group(1)
        for side in ("left", "right"):
            img = client.get(f"/image/{token}/{side}")
            assert img.status_code == 200 and img.mimetype == "image/png"
        choice = "left" if k % 3 else "right"
        resp = client.post("/vote", data={"token": token, "choice": choice, "ms": "1234"})
        assert resp.status_code == 303 and resp.headers["X-Vote"] == "recorded"
        choices[token] = choice
    done = client.get("/q")
    assert done.status_code == 303 and done.headers["Location"].endswith("/done")
    assert "You answered all 6 questions" in client.get("/done").get_data(as_text=True)
    # Expected wins from the database's left/right order, then the report's counts.
    with sqlite3.connect(db_path(study)) as conn:
        expected = expected_wins(conn, choices, 3)
    names, wins, info = load_wins(study)
    assert names == ["A", "B", "C"] and info["votes"] == 6 and info["raters_with_votes"] == 1
    np.testing.assert_array_equal(wins, expected)


def test_replay_and_double_vote_count_once(app, study):
    client = start_rater(app)
    token = current_token(client)
    first = client.post("/vote", data={"token": token, "choice": "left"})
    assert first.headers["X-Vote"] == "recorded"
    replay = client.post("/vote", data={"token": token, "choice": "left"})
    assert replay.status_code == 303 and replay.headers["X-Vote"] == "duplicate"
    flip = client.post("/vote", data={"token": token, "choice": "right"})
    assert flip.status_code == 409
    assert votes_in(study) == 1
    with sqlite3.connect(db_path(study)) as conn:
        assert conn.execute("SELECT choice FROM votes").fetchone()[0] == "left"
    # The next question is a new one: the rater moved on.
    assert current_token(client) != token


def test_no_access_to_other_raters_questions(app, study):
    alice, bob = start_rater(app), start_rater(app)
    token = current_token(alice)
    assert bob.post("/vote", data={"token": token, "choice": "left"}).status_code == 404
    assert bob.get(f"/image/{token}/left").status_code == 404
    anonymous = app.test_client()
    assert anonymous.post("/vote", data={"token": token, "choice": "left"}).status_code == 403
    assert anonymous.get(f"/image/{token}/left").status_code == 403
    forged = app.test_client()
    forged.set_cookie(RATER_COOKIE, "x" * 32)
    assert forged.post("/vote", data={"token": token, "choice": "left"}).status_code == 403
    assert votes_in(study) == 0
    # The rater's cookie value is never stored in the database.
    cookie = alice.get_cookie(RATER_COOKIE).value
    assert cookie.encode() not in db_path(study).read_bytes()


@pytest.mark.parametrize(
    "data, content_type, status",
    [
        ({"choice": "left"}, None, 400),  # no token
        ({"token": "", "choice": "left"}, None, 400),
        ({"token": "TOKEN", "choice": "LEFT"}, None, 400),
        ({"token": "TOKEN", "choice": "both"}, None, 400),
        ({"token": "TOKEN"}, None, 400),
        ({"token": "TOKEN", "choice": "left", "ms": "-5"}, None, 400),
        ({"token": "TOKEN", "choice": "left", "ms": "1e9"}, None, 400),
        ({"token": "../../study", "choice": "left"}, None, 400),
        ({"token": "A" * 65, "choice": "left"}, None, 400),
        ({"token": "unknowntoken123", "choice": "left"}, None, 404),
        ('{"token": "TOKEN", "choice": "left"}', "application/json", 415),
        ({"token": "TOKEN", "choice": "left", "pad": "x" * 10_000}, None, 413),
    ],
)
def test_malformed_votes_are_4xx_and_write_nothing(app, study, data, content_type, status):
    client = start_rater(app)
    token = current_token(client)
    if isinstance(data, dict):
        data = {k: (token if v == "TOKEN" else v) for k, v in data.items()}
    else:
        data = data.replace("TOKEN", token)
    kwargs = {"content_type": content_type} if content_type else {}
    resp = client.post("/vote", data=data, **kwargs)
    assert resp.status_code == status, resp.data
    assert votes_in(study) == 0
    assert current_token(client) == token  # still on the same question


def test_wrong_methods_and_routes(app):
    client = start_rater(app)
    assert client.get("/vote").status_code == 405
    assert client.put("/vote").status_code == 405
    assert client.get("/no/such/page").status_code == 404


def test_path_traversal_is_refused(app, study, tmp_path):
    client = start_rater(app)
    token = current_token(client)
    for path in [
        "/image/../study.sqlite",
        "/image/..%2f..%2fstudy.sqlite/left",
        f"/image/{token}/..%2f..%2fstudy.sqlite",
        f"/image/{token}/../../study.sqlite",
        "/crops/m1/1.png",
        "/study.sqlite",
        f"/image/{token}/reference",  # this study has no reference
        f"/image/{token}/%2e%2e",
    ]:
        resp = client.get(path)
        assert resp.status_code in (400, 404), path
        assert b"SQLite format" not in resp.data
    assert safe_study_file(study, "crops/m1/1.png") is not None
    assert safe_study_file(study, "study.sqlite") is None
    assert safe_study_file(study, "crops/../study.sqlite") is None
    assert safe_study_file(study, "crops/m1/../../../../etc/passwd") is None
    assert safe_study_file(study, "crops/m1/1.png\x00") is None
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for raters")
    os.symlink(secret, study / "crops" / "m1" / "link.png")
    assert safe_study_file(study, "crops/m1/link.png") is None


def test_reference_is_served_when_present(tmp_path):
    folder = make_study(tmp_path, methods=("A", "B"), n_images=2, questions=2, reference=True)
    app = create_app(folder, admin_token=ADMIN, rate_limit=0)
    client = start_rater(app)
    token = current_token(client)
    assert "original" in client.get("/q").get_data(as_text=True)
    resp = client.get(f"/image/{token}/reference")
    assert resp.status_code == 200 and resp.data.startswith(b"\x89PNG")


def test_admin_pages_need_the_token(app, study):
    client = start_rater(app)
    token = current_token(client)
    client.post("/vote", data={"token": token, "choice": "right"})
    anon = app.test_client()
    for path in ["/admin", "/admin/votes.csv", "/admin/report.json"]:
        assert anon.get(path).status_code == 403
        assert anon.get(path + "?token=wrong").status_code == 403
        assert anon.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 403
    page = anon.get(f"/admin?token={ADMIN}")
    assert page.status_code == 200 and "1 votes of 6 questions handed out" in page.get_data(as_text=True)
    csv_text = anon.get("/admin/votes.csv", headers={"Authorization": f"Bearer {ADMIN}"}).get_data(
        as_text=True
    )
    assert csv_text.splitlines()[0].startswith("rater,position,image,left,right,choice,winner")
    assert len(csv_text.splitlines()) == 2
    assert client.get_cookie(RATER_COOKIE).value not in csv_text
    report = json.loads(anon.get(f"/admin/report.json?token={ADMIN}").data)
    assert report["votes"] == 1
    assert anon.get(f"/admin/report.exe?token={ADMIN}").status_code == 404


def test_security_headers(app):
    resp = app.test_client().get("/")
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", resp.headers["Content-Security-Policy"]).group(1)
    assert f'nonce="{nonce}"' in resp.get_data(as_text=True)
    assert resp.headers["X-Frame-Options"] == "DENY" and resp.headers["Referrer-Policy"] == "no-referrer"


def test_rate_limit(study):
    limiter = RateLimiter(rate=2, burst=3)
    assert [limiter.allow("a", now=0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", now=0.0)  # per key
    assert limiter.allow("a", now=0.5) and not limiter.allow("a", now=0.5)  # refills at 2/s
    app = create_app(study, admin_token=ADMIN, rate_limit=1)  # bursts of 2
    client = start_rater(app)  # request 1
    token = TOKEN_RE.search(client.get("/q").get_data(as_text=True)).group(1)  # request 2
    resp = client.post("/vote", data={"token": token, "choice": "left"})
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "1"
    assert votes_in(study) == 0
    assert client.get("/healthz").status_code == 200  # health checks are not limited


def test_cli_create_report_export(tmp_path, capsys):
    folders = write_method_images(tmp_path, ["A", "B"], ["p", "q", "r"])
    folder = tmp_path / "cli-study"
    argv = ["study", "create", str(folder), "--method", f"A={folders['A']}", "--method", f"B={folders['B']}"]
    assert main([*argv, "--crop", "16", "--questions", "3", "--title", "CLI test"]) == 0
    assert "2 methods (A, B), 3 images, 1 method pairs" in capsys.readouterr().out
    assert main(argv) == 2  # the folder already holds a study
    assert "already holds a study" in capsys.readouterr().err
    app = create_app(folder, admin_token=ADMIN, rate_limit=0)
    client = start_rater(app)
    for _ in range(3):
        client.post("/vote", data={"token": current_token(client), "choice": "left"})
    assert main(["study", "report", str(folder), "--format", "json", "--plot", str(tmp_path / "p.png")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["votes"] == 3 and data["title"] == "CLI test"
    assert sum(p["wins"] for p in data["pairs"]) == 3 and (tmp_path / "p.png").stat().st_size > 1000
    assert main(["study", "report", str(folder), "--output", str(tmp_path / "r.md")]) == 0
    assert "| A | - |" in (tmp_path / "r.md").read_text()
    assert main(["study", "export", str(folder)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 4
    assert main(["study", "report", str(tmp_path / "nothing")]) == 2
    assert "no study in" in capsys.readouterr().err
