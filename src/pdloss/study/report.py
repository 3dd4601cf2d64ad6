"""``pdloss study report``: the pairwise preference matrix and Bradley-Terry scores.

The matrix has the layout of the paper's Tables 3 and 5: cell (row, column) is the fraction
``p`` of the comparisons between the two methods in which raters preferred the row, with its
count ``n`` and standard error ``sqrt(p (1 - p) / n)`` (a Bernoulli proportion, as in the paper).

Bradley-Terry models ``P(i beats j) = pi_i / (pi_i + pi_j)``. Scores are log-strengths
``theta_i = log pi_i`` centred to mean zero, fitted by maximum likelihood with Hunter's (2004)
MM iteration ``pi_i <- W_i / sum_j n_ij / (pi_i + pi_j)``. Their standard errors come from the
Fisher information (the weighted graph Laplacian with weights ``n_ij p_ij p_ji``), whose
pseudo-inverse is the covariance under the mean-zero constraint; the 95% interval is
``theta +- 1.96 se``. The maximum-likelihood estimate exists only when every split of the methods
into two groups has a win in each direction (the "beats" graph is strongly connected); when it
is not, the fit adds half a pseudo-win each way to every compared pair and says so.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pdloss.errors import InputError
from pdloss.study.db import method_names, open_study_db, read_meta

Z95 = 1.959963984540054
PSEUDO_WINS = 0.5


@dataclass(frozen=True)
class BradleyTerry:
    """Fitted log-strengths (mean zero) with Fisher standard errors; NaN where undefined."""

    scores: np.ndarray  # (M,)
    se: np.ndarray  # (M,)
    iterations: int
    converged: bool
    note: str | None

    @property
    def ci_low(self) -> np.ndarray:
        return self.scores - Z95 * self.se

    @property
    def ci_high(self) -> np.ndarray:
        return self.scores + Z95 * self.se


def preference_matrix(wins: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``wins[i, j]`` = times i was preferred over j -> (n, fraction, standard error), each (M, M).

    ``n[i, j] = wins[i, j] + wins[j, i]``; fraction and SE are NaN where ``n == 0`` (and on the
    diagonal).
    """
    wins = np.asarray(wins, dtype=np.float64)
    if wins.ndim != 2 or wins.shape[0] != wins.shape[1]:
        raise InputError(f"wins must be a square matrix, got shape {wins.shape}")
    if (wins < 0).any() or np.diag(wins).any():
        raise InputError("wins must be non-negative with a zero diagonal")
    n = wins + wins.T
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, wins / n, np.nan)
        se = np.sqrt(p * (1.0 - p) / n)
    return n, p, se


def _reachable(adjacency: np.ndarray, start: int) -> np.ndarray:
    seen = np.zeros(len(adjacency), dtype=bool)
    seen[start] = True
    frontier = seen.copy()
    while frontier.any():
        new = adjacency[frontier].any(axis=0) & ~seen
        seen |= new
        frontier = new
    return seen


def _strongly_connected(adjacency: np.ndarray) -> bool:
    return bool(_reachable(adjacency, 0).all() and _reachable(adjacency.T, 0).all())


def bradley_terry(wins: np.ndarray, tol: float = 1e-10, max_iter: int = 100_000) -> BradleyTerry:
    """Fit Bradley-Terry log-strengths to a wins matrix (see the module docstring)."""
    wins = np.asarray(wins, dtype=np.float64)
    n, _, _ = preference_matrix(wins)
    m = len(wins)
    nan = np.full(m, np.nan)
    if m < 2 or not _strongly_connected(n > 0):
        return BradleyTerry(
            nan, nan.copy(), 0, False, "not every method is linked to the others by comparisons"
        )
    note = None
    fit_wins = wins
    if not _strongly_connected(wins > 0):
        fit_wins = wins + PSEUDO_WINS * (n > 0)
        note = (
            f"some methods never lost or never won against the rest, so the maximum-likelihood "
            f"scores are infinite; fitted with {PSEUDO_WINS} pseudo-wins each way per compared pair"
        )
    fit_n = fit_wins + fit_wins.T
    total = fit_wins.sum(axis=1)
    pi = np.ones(m)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 (the count is reported)
        denom = (fit_n / (pi[:, None] + pi[None, :])).sum(axis=1)
        new = total / denom
        new /= np.exp(np.log(new).mean())
        step = np.abs(np.log(new) - np.log(pi)).max()
        pi = new
        if step < tol:
            converged = True
            break
    theta = np.log(pi)
    p = pi[:, None] / (pi[:, None] + pi[None, :])
    weights = fit_n * p * p.T
    laplacian = np.diag(weights.sum(axis=1)) - weights
    cov = np.linalg.pinv(laplacian)
    se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return BradleyTerry(theta - theta.mean(), se, it, converged, note)


def load_wins(folder: str | Path) -> tuple[list[str], np.ndarray, dict]:
    """Read a study's votes: (method names, wins matrix, counts of raters/votes/questions)."""
    conn = open_study_db(folder)
    try:
        names = method_names(conn)
        meta = read_meta(conn)
        rows = conn.execute(
            "SELECT a.method_a, a.method_b, v.winner FROM votes v "
            "JOIN assignments a ON a.id = v.assignment_id"
        ).fetchall()
        raters_voted = conn.execute(
            "SELECT COUNT(DISTINCT a.rater_id) FROM votes v JOIN assignments a ON a.id = v.assignment_id"
        ).fetchone()[0]
        raters = conn.execute("SELECT COUNT(*) FROM raters").fetchone()[0]
        assigned = conn.execute("SELECT COUNT(*) FROM assignments").fetchone()[0]
    finally:
        conn.close()
    index = {method_id: k for k, method_id in enumerate(names)}
    wins = np.zeros((len(names), len(names)), dtype=np.int64)
    if rows:
        arr = np.array([tuple(r) for r in rows], dtype=np.int64)
        a, b, winner = arr[:, 0], arr[:, 1], arr[:, 2]
        loser = np.where(winner == a, b, a)
        np.add.at(wins, (np.vectorize(index.get)(winner), np.vectorize(index.get)(loser)), 1)
    info = {
        "title": meta.get("title", ""),
        "votes": len(rows),
        "raters": int(raters),
        "raters_with_votes": int(raters_voted),
        "questions_assigned": int(assigned),
    }
    return list(names.values()), wins, info


def build_report(names: list[str], wins: np.ndarray, info: dict | None = None) -> dict:
    """Everything the report formats show, as plain JSON-able data."""
    wins = np.asarray(wins)
    n, p, se = preference_matrix(wins)
    bt = bradley_terry(wins)

    def clean(x: float) -> float | None:
        return None if not math.isfinite(x) else float(x)

    pairs = [
        {
            "row": names[i],
            "column": names[j],
            "wins": int(wins[i, j]),
            "n": int(n[i, j]),
            "fraction": clean(p[i, j]),
            "se": clean(se[i, j]),
        }
        for i in range(len(names))
        for j in range(len(names))
        if i != j
    ]
    scores = [
        {
            "method": name,
            "score": clean(bt.scores[k]),
            "se": clean(bt.se[k]),
            "ci95_low": clean(bt.ci_low[k]),
            "ci95_high": clean(bt.ci_high[k]),
            "wins": int(wins[k].sum()),
            "comparisons": int(n[k].sum()),
        }
        for k, name in enumerate(names)
    ]
    return {
        **(info or {}),
        "methods": list(names),
        "pairs": pairs,
        "bradley_terry": {
            "scores": scores,
            "iterations": bt.iterations,
            "converged": bt.converged,
            "note": bt.note,
        },
    }


def _cell(pair: dict) -> str:
    if pair["n"] == 0:
        return "n/a (0)"
    return f"{pair['fraction']:.2f} ± {pair['se']:.3f} ({pair['wins']}/{pair['n']})"


def format_markdown(report: dict) -> str:
    """Tables 3/5 layout (row beats column) and the Bradley-Terry table, as markdown."""
    names = report["methods"]
    cells = {(p["row"], p["column"]): p for p in report["pairs"]}
    title = report.get("title") or "study"
    lines = [f"# Pairwise preference: {title}", ""]
    if "votes" in report:
        lines += [
            f"{report['votes']} votes from {report.get('raters_with_votes', '?')} raters "
            f"({report.get('raters', '?')} raters registered).",
            "",
        ]
    lines += [
        "Each cell: fraction of comparisons in which raters preferred the **row** over the column, "
        "± standard error sqrt(p(1-p)/n), and (row wins / comparisons).",
        "",
        "| | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for r in names:
        row = ["-" if r == c else _cell(cells[(r, c)]) for c in names]
        lines.append(f"| {r} | " + " | ".join(row) + " |")
    bt = report["bradley_terry"]
    lines += [
        "",
        "## Bradley-Terry scores",
        "",
        "Log-strength (mean zero; P(i beats j) = 1 / (1 + exp(s_j - s_i))), 95% interval from the "
        "Fisher information.",
        "",
        "| method | score | 95% CI | wins | comparisons |",
        "|---|---|---|---|---|",
    ]
    for s in sorted(
        bt["scores"], key=lambda s: -math.inf if s["score"] is None else s["score"], reverse=True
    ):
        if s["score"] is None:
            lines.append(f"| {s['method']} | n/a | n/a | {s['wins']} | {s['comparisons']} |")
        else:
            lines.append(
                f"| {s['method']} | {s['score']:+.3f} | [{s['ci95_low']:+.3f}, {s['ci95_high']:+.3f}] "
                f"| {s['wins']} | {s['comparisons']} |"
            )
    if bt["note"]:
        lines += ["", f"Note: {bt['note']}."]
    return "\n".join(lines) + "\n"


def format_csv(report: dict) -> str:
    """One row per ordered method pair and one per Bradley-Terry score (column ``kind``)."""
    out = io.StringIO()
    fields = ["kind", "row", "column", "wins", "n", "fraction", "se", "score", "ci95_low", "ci95_high"]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for p in report["pairs"]:
        writer.writerow({"kind": "pair", **p})
    for s in report["bradley_terry"]["scores"]:
        writer.writerow(
            {
                "kind": "bradley_terry",
                "row": s["method"],
                "wins": s["wins"],
                "n": s["comparisons"],
                "se": s["se"],
                "score": s["score"],
                "ci95_low": s["ci95_low"],
                "ci95_high": s["ci95_high"],
            }
        )
    return out.getvalue()


def format_json(report: dict) -> str:
    return json.dumps(report, indent=2) + "\n"


def plot_report(report: dict, path: str | Path) -> Path:
    """Preference matrix heat map and Bradley-Terry scores with 95% intervals, saved to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = report["methods"]
    m = len(names)
    index = {name: k for k, name in enumerate(names)}
    frac = np.full((m, m), np.nan)
    for p in report["pairs"]:
        if p["fraction"] is not None:
            frac[index[p["row"]], index[p["column"]]] = p["fraction"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(5 + 1.6 * m, 0.9 * m + 2.5))
    image = ax1.imshow(frac, vmin=0, vmax=1, cmap="RdBu_r")
    for i in range(m):
        for j in range(m):
            if math.isfinite(frac[i, j]):
                ax1.text(j, i, f"{frac[i, j]:.2f}", ha="center", va="center", fontsize=9)
    ax1.set_xticks(range(m), names, rotation=45, ha="right")
    ax1.set_yticks(range(m), names)
    ax1.set_title("fraction row preferred over column")
    fig.colorbar(image, ax=ax1, fraction=0.046)
    scores = report["bradley_terry"]["scores"]
    # Best method at the top.
    ok = sorted((s for s in scores if s["score"] is not None), key=lambda s: s["score"])
    ys = np.arange(len(ok))
    if ok:
        vals = np.array([s["score"] for s in ok])
        err = np.array([[s["score"] - s["ci95_low"], s["ci95_high"] - s["score"]] for s in ok]).T
        ax2.errorbar(vals, ys, xerr=err, fmt="o", capsize=4)
    ax2.set_yticks(ys, [s["method"] for s in ok])
    ax2.axvline(0, color="0.7", lw=1)
    ax2.set_xlabel("Bradley-Terry log-strength (95% CI)")
    ax2.set_title("Bradley-Terry scores")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
