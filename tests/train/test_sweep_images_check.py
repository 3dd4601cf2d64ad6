"""``pdloss sweep CONFIG --images DIR`` checks DIR (subfolders included) before it trains anything."""

from __future__ import annotations

import yaml

from helpers import tiny_config, write_photos
from pdloss.cli import main


def test_photos_too_small_for_the_evaluation_fail_before_training(tmp_path, capsys):
    photos = write_photos(tmp_path / "photos", 2, 48)
    images = write_photos(tmp_path / "eval", 2, 64)
    write_photos(images / "screenshots", 3, 24, prefix="shot")  # read too: subfolders are part of DIR
    raw = tiny_config(photos, tmp_path / "sweep", **{"evaluate.crop": 32, "evaluate.metrics": ["psnr"]})
    raw["sweep"] = [["run=a", "loss=l1"]]
    config_file = tmp_path / "sweep.yaml"
    config_file.write_text(yaml.safe_dump(raw))
    assert main(["sweep", str(config_file), "--images", str(images)]) == 2
    err = capsys.readouterr().err
    assert "3 image(s) smaller than the 32 px this evaluation needs" in err
    assert all(f"shot{i}" in err for i in range(3)) and "screenshots" in err
    assert not (tmp_path / "sweep" / "a").exists()  # nothing trained
    # --no-eval evaluates nothing, so it does not look at --images either.
    assert main(["sweep", str(config_file), "--images", str(images), "--no-eval"]) == 0
    assert (tmp_path / "sweep" / "a" / "checkpoints" / "last.pt").exists()
