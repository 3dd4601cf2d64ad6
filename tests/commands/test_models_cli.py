"""``pdloss models``: the listing and its JSON form."""

from __future__ import annotations

import json

from pdloss.cli import main

EXPECTED = {  # name: (task, parameters), the figures of docs/models.md
    "srn": ("denoise", 6_881_251),
    "srn-lstm": ("denoise", 8_061_411),
    "edsr-baseline": ("sr4x", 1_517_571),
    "edsr": ("sr4x", 43_089_923),
    "pssnsc": ("deblur", 3_871_715),
    "small-unet": ("denoise", 459_299),
}


def test_models_json(capsys):
    assert main(["models", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {name: (info["task"], info["parameters"]) for name, info in listing.items()} == EXPECTED
    assert all(isinstance(info["parameters"], int) for info in listing.values())
    assert listing["small-unet"]["from_paper"] is False
    assert all(listing[n]["from_paper"] for n in EXPECTED if n != "small-unet")
    assert set(listing["srn"]["tasks"]) == {"denoise", "jpeg", "demosaic"}


def test_models_table(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name, (task, params) in EXPECTED.items():
        line = next(row for row in out.splitlines() if row.split()[0] == name)
        assert task in line and f"{params:,}" in line
    assert "not from the paper" in out
