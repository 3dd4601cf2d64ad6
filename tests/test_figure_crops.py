"""``pdloss figure crops``: a crop grid of chosen runs from their evaluation folders (files written here)."""

from __future__ import annotations

import torch
from PIL import Image

from pdloss.cli import main
from pdloss.imageio import write_image


def _evaluated_run(root, name, tag="eval-offline-test", stems=("a", "b")):
    run = root / name
    g = torch.Generator().manual_seed(len(name))
    for kind in ("input", "reference", "restored"):
        for stem in stems:
            (run / tag / kind).mkdir(parents=True, exist_ok=True)
            write_image(run / tag / kind / f"{stem}.png", torch.rand(3, 40, 48, generator=g))
    return run


def test_crop_grid_of_chosen_runs(tmp_path, capsys):
    first, second = _evaluated_run(tmp_path, "l1"), _evaluated_run(tmp_path, "pdl-0.08")
    out = tmp_path / "grid.png"
    argv = ["figure", "crops", str(out), f"{first}=L1", f"{second}=PDL 0.08", "--images", "offline:test"]
    assert main([*argv, "--crop", "32", "--zoom", "2", "--max-images", "2"]) == 0
    assert "crop grid written" in capsys.readouterr().out
    with Image.open(out) as image:
        width, height = image.size
    assert width > height  # 4 columns (input, 2 runs, reference) by 2 rows


def test_crop_grid_names_a_run_without_that_evaluation(tmp_path, capsys):
    run = _evaluated_run(tmp_path, "l1")
    assert main(["figure", "crops", str(tmp_path / "g.png"), str(run)]) == 2  # no plain eval/ folder
    err = capsys.readouterr().err
    assert "has no eval/restored/" in err and "pdloss evaluate" in err
    assert not (tmp_path / "g.png").exists()
