"""End-to-end: a rater answers every question of a study in headless Chromium, with the mouse
and the keyboard, against the real server; the report then shows the counts those answers imply.

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package (see
docs/study.md); skipped with the reason when one is missing. Set PDLOSS_STUDY_SCREENSHOT to a
PNG path to also save a screenshot of the rating page.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile

import numpy as np

from browser import chromium_driver
from pdloss.study.db import db_path
from pdloss.study.report import build_report, load_wins
from study.support import Server, expected_wins, free_port, make_study

# The input used for each question, in turn: mouse clicks and all four keys.
ACTIONS = ["click-left", "key-ArrowRight", "key-1", "key-2", "click-right", "key-ArrowLeft"]


def test_rater_answers_all_questions_in_chromium(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    folder = make_study(tmp_path, methods=("A", "B", "C"), n_images=3, questions=6, crop=32)
    port = free_port()
    server = Server(folder, port)
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    driver = None
    try:
        driver = chromium_driver(profile)
        server.start()
        base = f"http://127.0.0.1:{port}"
        driver.get(base + "/")
        assert "1920" in driver.page_source and "Do not zoom" in driver.page_source
        driver.find_element(By.ID, "start").click()
        wait = WebDriverWait(driver, 10)
        chosen: dict[str, str] = {}
        for k, action in enumerate(ACTIONS):
            wait.until(
                lambda d, k=k: d.find_element(By.ID, "position").text.startswith(f"Question {k + 1} of 6")
            )
            wait.until(
                lambda d: d.execute_script(
                    "return Array.from(document.images).every(i => i.complete && i.naturalWidth === 32)"
                )
            )
            token = driver.find_element(By.NAME, "token").get_attribute("value")
            if k == 0 and os.environ.get("PDLOSS_STUDY_SCREENSHOT"):
                driver.save_screenshot(os.environ["PDLOSS_STUDY_SCREENSHOT"])
            kind, what = action.split("-", 1)
            if kind == "click":
                driver.find_element(By.CSS_SELECTOR, f"#choose-{what} img").click()
                chosen[token] = what
            else:
                key = {"ArrowLeft": Keys.ARROW_LEFT, "ArrowRight": Keys.ARROW_RIGHT}.get(what, what)
                driver.find_element(By.TAG_NAME, "body").send_keys(key)
                chosen[token] = "left" if what in ("ArrowLeft", "1") else "right"
            wait.until(lambda d, token=token: token not in d.page_source)
        wait.until(lambda d: d.current_url.endswith("/done"))
        assert "You answered all 6 questions" in driver.find_element(By.ID, "done").text
    finally:
        if driver is not None:
            driver.quit()
        server.stop()

    # The counts the clicks and keys imply, from the database's (secret) left/right order.
    with sqlite3.connect(db_path(folder)) as conn:
        stored = dict(
            conn.execute("SELECT a.token, v.choice FROM votes v JOIN assignments a ON a.id = v.assignment_id")
        )
        expected = expected_wins(conn, chosen, 3)
    assert stored == chosen  # every answer recorded once, with the side that was picked
    names, wins, info = load_wins(folder)
    np.testing.assert_array_equal(wins, expected)
    report = build_report(names, wins, info)
    assert report["votes"] == 6 and report["raters_with_votes"] == 1
    for pair in report["pairs"]:
        i, j = names.index(pair["row"]), names.index(pair["column"])
        assert pair["wins"] == expected[i, j] and pair["n"] == expected[i, j] + expected[j, i]
