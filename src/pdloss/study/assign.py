"""Balanced question sets: which (image, method pair) each new rater is asked about.

A question is one image compared between two methods. A new rater gets ``k`` distinct
questions chosen greedily from the whole pool: each pick takes the method pair with the fewest
questions handed out so far (over all raters, this rater's picks included), then that pair's
least-asked image, preferring images this rater has seen least; ties are broken at random.
The pair counts therefore never differ by more than one after each rater (when every pair has
an unasked image left), which is what keeps the number of comparisons per pair even, as in the
paper's 500 comparisons per pair. Left/right order is drawn at random per question.

The caller runs :func:`assign_questions` inside the write transaction that creates the rater,
so concurrent raters see each other's counts.
"""

from __future__ import annotations

import random
import secrets
import sqlite3
from collections import Counter
from dataclasses import dataclass
from itertools import combinations


@dataclass(frozen=True)
class Question:
    """One question of one rater: image ``image_id`` compared between two methods."""

    position: int
    image_id: int
    method_a: int  # method_a < method_b
    method_b: int
    left_method: int
    token: str


def plan_questions(
    method_ids: list[int],
    image_ids: list[int],
    k: int,
    pair_counts: Counter,
    pair_image_counts: Counter,
    rng: random.Random,
) -> list[tuple[int, int, int, int]]:
    """Pick ``k`` distinct (image, a, b, left) questions, updating the counters in place.

    ``pair_counts[(a, b)]`` and ``pair_image_counts[(a, b, image)]`` are the numbers of
    questions already handed out. Returns the questions in a random order.
    """
    pairs = list(combinations(sorted(method_ids), 2))
    k = min(k, len(pairs) * len(image_ids))
    mine: set[tuple[int, int, int]] = set()
    image_uses: Counter = Counter()
    chosen = []
    for _ in range(k):
        open_pairs = [p for p in pairs if any((*p, i) not in mine for i in image_ids)]
        low = min(pair_counts[p] for p in open_pairs)
        pair = rng.choice([p for p in open_pairs if pair_counts[p] == low])
        candidates = [i for i in image_ids if (*pair, i) not in mine]
        key = {i: (pair_image_counts[(*pair, i)], image_uses[i]) for i in candidates}
        best = min(key.values())
        image = rng.choice([i for i in candidates if key[i] == best])
        mine.add((*pair, image))
        image_uses[image] += 1
        pair_counts[pair] += 1
        pair_image_counts[(*pair, image)] += 1
        chosen.append((image, pair[0], pair[1], rng.choice(pair)))
    rng.shuffle(chosen)
    return chosen


def assign_questions(conn: sqlite3.Connection, rater_id: int, k: int, seed: int) -> list[Question]:
    """Choose and insert ``k`` questions for ``rater_id`` (call inside a write transaction)."""
    method_ids = [r[0] for r in conn.execute("SELECT id FROM methods ORDER BY id")]
    image_ids = [r[0] for r in conn.execute("SELECT id FROM images ORDER BY id")]
    pair_image_counts: Counter = Counter()
    pair_counts: Counter = Counter()
    rows = conn.execute(
        "SELECT method_a, method_b, image_id, COUNT(*) FROM assignments GROUP BY method_a, method_b, image_id"
    )
    for a, b, image, count in rows:
        pair_image_counts[(a, b, image)] = count
        pair_counts[(a, b)] += count
    # Seeded per rater: the same study seed and arrival order give the same question sets.
    rng = random.Random(f"{seed}:{rater_id}")
    plan = plan_questions(method_ids, image_ids, k, pair_counts, pair_image_counts, rng)
    questions = [
        Question(pos, image, a, b, left, secrets.token_urlsafe(16))
        for pos, (image, a, b, left) in enumerate(plan, start=1)
    ]
    conn.executemany(
        "INSERT INTO assignments (rater_id, position, image_id, method_a, method_b, left_method, token) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (rater_id, q.position, q.image_id, q.method_a, q.method_b, q.left_method, q.token)
            for q in questions
        ],
    )
    return questions
