"""``pdloss figure crops``: a crop grid of chosen runs from their evaluation folders (files written here)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from pdloss.cli import main
from pdloss.imageio import write_image
from pdloss.report.figures import crop_grid, crop_panel


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


def test_crop_grid_takes_an_earlier_checkpoints_evaluation(tmp_path, capsys):
    run = _evaluated_run(tmp_path, "pdl")
    _evaluated_run(tmp_path, "pdl", tag="eval-offline-test-step400")
    out = tmp_path / "g.png"
    argv = ["figure", "crops", str(out), "--images", "offline:test", "--crop", "32"]
    assert main([*argv, f"{run}@400", f"{run}=3200 steps"]) == 0
    assert out.is_file()
    assert main([*argv, f"{run}@800"]) == 2  # that checkpoint was not evaluated: named, not replaced
    assert "has no eval-offline-test-step800/restored/" in capsys.readouterr().err


def test_crop_panel_by_hand():
    image = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    np.testing.assert_array_equal(crop_panel(image, 1, 2, 2, 1), image[:, 1:3, 2:4])
    zoomed = crop_panel(image, 1, 2, 2, 2)
    assert zoomed.shape == (2, 4, 4) and (zoomed[:, 0:2, 0:2] == image[:, 1:2, 2:3]).all()
    # A 2x smaller input: the reference window rows 2-5, cols 0-3 are input rows 1-2, cols 0-1,
    # each input pixel shown 2 (factor) x 2 (zoom) = 4 times.
    small = np.arange(3 * 4 * 4, dtype=np.float32).reshape(3, 4, 4)
    panel = crop_panel(small, 2, 0, 4, 2, factor=2)
    assert panel.shape == (3, 8, 8)
    np.testing.assert_array_equal(panel[:, ::4, ::4], small[:, 1:3, 0:2])
    assert (panel[:, 0:4, 0:4] == small[:, 1:2, 0:1]).all()


def test_crop_grid_shows_a_smaller_input_enlarged(tmp_path):
    run = tmp_path / "edsr"
    g = torch.Generator().manual_seed(0)
    for kind, size in (("input-small", 10), ("reference", 40), ("restored", 40)):
        (run / "eval" / kind).mkdir(parents=True)
        write_image(run / "eval" / kind / "a.png", torch.rand(3, size, size, generator=g))
    out = crop_grid([run], ["EDSR"], tmp_path / "grid.png", crop=16, max_images=1, zoom=2)
    with Image.open(out) as image:
        assert image.size[0] > 2 * image.size[1]  # three columns: input, the run, reference
    write_image(run / "eval" / "input-small" / "a.png", torch.rand(3, 9, 9, generator=g))
    with pytest.raises(ValueError, match="input a is 9x9, not a whole fraction of its 40x40 reference"):
        crop_grid([run], ["EDSR"], tmp_path / "bad.png", crop=16, max_images=1)
