"""Report maths of the study against hand-computed values and an independent scipy fit."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest
from scipy.optimize import minimize

from pdloss.errors import InputError
from pdloss.study.report import (
    Z95,
    bradley_terry,
    build_report,
    format_csv,
    format_json,
    format_markdown,
    plot_report,
    preference_matrix,
)

# wins[i, j] = times method i was preferred over method j
WINS = np.array([[0, 3, 1], [1, 0, 0], [4, 2, 0]])


def test_preference_matrix_hand_computed():
    n, p, se = preference_matrix(WINS)
    assert n[0, 1] == n[1, 0] == 4 and n[0, 2] == 5 and n[1, 2] == 2
    assert p[0, 1] == 0.75 and p[1, 0] == 0.25
    assert p[0, 2] == pytest.approx(0.2) and p[2, 0] == pytest.approx(0.8)
    assert p[1, 2] == 0.0 and p[2, 1] == 1.0
    assert se[0, 1] == pytest.approx(math.sqrt(0.75 * 0.25 / 4))  # 0.21651
    assert se[0, 2] == pytest.approx(math.sqrt(0.2 * 0.8 / 5))  # 0.17889
    assert se[1, 2] == 0.0
    assert np.isnan(p[0, 0]) and np.isnan(se[1, 1])


def test_paper_worst_case_standard_error():
    # The paper: with n = 500 and p = 0.5 the standard error is about 0.022.
    _, p, se = preference_matrix(np.array([[0, 250], [250, 0]]))
    assert p[0, 1] == 0.5
    assert se[0, 1] == pytest.approx(0.02236, abs=1e-5)


def test_preference_matrix_rejects_bad_input():
    with pytest.raises(InputError):
        preference_matrix(np.zeros((2, 3)))
    with pytest.raises(InputError):
        preference_matrix(np.array([[1, 0], [0, 0]]))
    with pytest.raises(InputError):
        preference_matrix(np.array([[0, -1], [0, 0]]))


def test_bradley_terry_exact_solution():
    # Strengths pi = (1, 2, 4); counts exactly proportional: wins[i, j] = 10 pi_i, n_ij = 10 (pi_i + pi_j).
    # These satisfy the likelihood equations exactly, so the MLE is log(pi) - mean(log pi).
    pi = np.array([1.0, 2.0, 4.0])
    wins = 10 * np.repeat(pi[:, None], 3, axis=1)
    np.fill_diagonal(wins, 0)
    bt = bradley_terry(wins)
    assert bt.converged and bt.note is None
    np.testing.assert_allclose(bt.scores, [-math.log(2), 0.0, math.log(2)], atol=1e-9)


def test_bradley_terry_two_methods_fisher_interval():
    # 75 of 100: theta_1 - theta_2 = logit(0.75) = ln 3 and var = 1 / (n p (1 - p)) = 1 / 18.75;
    # with mean-zero scores each score is +-ln(3)/2 with se = sqrt(1/18.75) / 2 = 0.11547.
    bt = bradley_terry(np.array([[0, 75], [25, 0]]))
    np.testing.assert_allclose(bt.scores, [math.log(3) / 2, -math.log(3) / 2], atol=1e-9)
    np.testing.assert_allclose(bt.se, [0.1154700538, 0.1154700538], atol=1e-8)
    np.testing.assert_allclose(bt.ci_high - bt.ci_low, 2 * Z95 * bt.se)


def _nll(theta_free: np.ndarray, wins: np.ndarray) -> float:
    theta = np.concatenate([[0.0], theta_free])
    d = theta[:, None] - theta[None, :]
    return float((wins * np.logaddexp(0.0, -d)).sum())  # -sum w_ij log sigmoid(theta_i - theta_j)


def test_bradley_terry_matches_scipy_and_numerical_hessian():
    wins = np.array([[0, 12, 9, 4], [7, 0, 11, 6], [5, 8, 0, 13], [2, 5, 6, 0]], dtype=float)
    bt = bradley_terry(wins)
    assert bt.converged
    fit = minimize(_nll, np.zeros(3), args=(wins,), method="BFGS", options={"gtol": 1e-10})
    ref = np.concatenate([[0.0], fit.x])
    np.testing.assert_allclose(bt.scores - bt.scores[0], ref, atol=1e-5)
    # Variance of theta_i - theta_0 from a finite-difference Hessian of the NLL at the optimum
    # (method 0 pinned) must equal the one implied by our mean-zero covariance.
    h = 1e-4
    k = len(fit.x)
    hess = np.zeros((k, k))
    for a in range(k):
        for b in range(k):
            ea, eb = np.eye(k)[a] * h, np.eye(k)[b] * h
            hess[a, b] = (
                _nll(fit.x + ea + eb, wins)
                - _nll(fit.x + ea - eb, wins)
                - _nll(fit.x - ea + eb, wins)
                + _nll(fit.x - ea - eb, wins)
            ) / (4 * h * h)
    var_diff_ref = np.diag(np.linalg.inv(hess))
    # The mean-zero covariance (pseudo-inverse of the information at the fit): its diagonal is the
    # reported se, and the variances of differences it implies must match the pinned-method Hessian.
    p = 1 / (1 + np.exp(-(bt.scores[:, None] - bt.scores[None, :])))
    n = wins + wins.T
    w = n * p * p.T
    cov = np.linalg.pinv(np.diag(w.sum(1)) - w)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), bt.se, rtol=1e-10)
    var_diff = np.array([cov[i, i] + cov[0, 0] - 2 * cov[i, 0] for i in range(1, 4)])
    np.testing.assert_allclose(var_diff, var_diff_ref, rtol=1e-3)


def test_bradley_terry_undefined_and_regularised_cases():
    # A method that never loses: the MLE is infinite -> pseudo-wins, finite scores, note, order kept.
    wins = np.array([[0, 5, 6], [0, 0, 3], [0, 2, 0]])
    bt = bradley_terry(wins)
    assert bt.note is not None and "pseudo-wins" in bt.note
    assert np.isfinite(bt.scores).all()
    assert bt.scores[0] > bt.scores[1] > bt.scores[2]
    # Method 2 never compared with the others: no scores at all.
    bt = bradley_terry(np.array([[0, 3, 0], [2, 0, 0], [0, 0, 0]]))
    assert np.isnan(bt.scores).all() and bt.note


def test_report_formats_round_trip(tmp_path):
    names = ["no-perceptual", "L1", "PDL"]
    report = build_report(names, WINS, {"title": "unit", "votes": int(WINS.sum())})
    md = format_markdown(report)
    assert "| no-perceptual | - | 0.75 ± 0.217 (3/4) | 0.20 ± 0.179 (1/5) |" in md
    assert "| PDL | 0.80 ± 0.179 (4/5) | 1.00 ± 0.000 (2/2) | - |" in md
    assert "## Bradley-Terry scores" in md
    rows = list(csv.DictReader(io.StringIO(format_csv(report))))
    pair = next(
        r for r in rows if r["kind"] == "pair" and r["row"] == "L1" and r["column"] == "no-perceptual"
    )
    assert (int(pair["wins"]), int(pair["n"]), float(pair["fraction"])) == (1, 4, 0.25)
    assert sum(r["kind"] == "bradley_terry" for r in rows) == 3
    data = json.loads(format_json(report))
    assert data["votes"] == 11 and data["methods"] == names
    scores = {s["method"]: s for s in data["bradley_terry"]["scores"]}
    assert scores["PDL"]["wins"] == 6 and scores["PDL"]["comparisons"] == 7
    out = plot_report(report, tmp_path / "plot.png")
    from PIL import Image

    with Image.open(out) as im:
        assert im.size[0] > 300 and im.size[1] > 200
