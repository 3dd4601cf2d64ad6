"""``evaluate`` and ``pdloss evaluate``: pairing by stem, JSON/CSV/markdown, unavailable metrics."""

from __future__ import annotations

import json

import pytest
import torch

from pdloss.cli import main
from pdloss.data.builtin import builtin_photos
from pdloss.errors import InputError
from pdloss.imageio import read_image, write_image
from pdloss.metrics import evaluate, fid_weights, ms_ssim, niqe, psnr, ssim

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    photos = builtin_photos()
    if not {"astronaut", "coffee"} <= set(photos):
        pytest.skip("built-in photos astronaut and coffee are not installed (scikit-image)")
    root = tmp_path_factory.mktemp("eval")
    g = torch.Generator().manual_seed(0)
    for name, suffix in (("astronaut", ".png"), ("coffee", ".bmp")):
        ref = read_image(photos[name])[:, :192, :176]
        pred = (ref + 0.05 * torch.randn(ref.shape, generator=g)).clamp(0, 1)
        write_image(root / "ref" / f"{name}.png", ref)
        write_image(root / "pred" / f"{name}{suffix}", pred)  # paired by stem, any format
    return root / "pred", root / "ref"


def test_json_has_exactly_the_requested_metrics(folders, capsys):
    pred_dir, ref_dir = folders
    code = main(["evaluate", "--pred", str(pred_dir), "--ref", str(ref_dir), "--metrics",
                 "psnr,ssim,ms_ssim,niqe,lpips", "--json", "--no-progress"])  # fmt: skip
    out = capsys.readouterr()
    assert code == 0
    data = json.loads(out.out)
    assert set(data) == {"mean", "per_image"}
    assert list(data["mean"]) == ["psnr", "ssim", "ms_ssim", "niqe", "lpips"]
    assert set(data["per_image"]) == {"astronaut", "coffee"}
    # Values are the functions' own, on the 8-bit files.
    pred = read_image(pred_dir / "coffee.bmp")[None]
    ref = read_image(ref_dir / "coffee.png")[None]
    row = data["per_image"]["coffee"]
    assert row["psnr"] == pytest.approx(psnr(pred, ref).item(), rel=1e-6)
    assert row["ssim"] == pytest.approx(ssim(pred, ref).item(), rel=1e-6)
    assert row["ms_ssim"] == pytest.approx(ms_ssim(pred, ref).item(), rel=1e-6)
    assert row["niqe"] == pytest.approx(niqe(pred).item(), rel=1e-9)
    means = data["mean"]
    assert means["psnr"] == pytest.approx((row["psnr"] + data["per_image"]["astronaut"]["psnr"]) / 2)
    # LPIPS needs torchvision's VGG16, absent here: null, with the reason on stderr.
    assert means["lpips"] is None and row["lpips"] is None
    assert "lpips unavailable" in out.err


def test_markdown_and_csv(folders, capsys):
    pred_dir, ref_dir = folders
    assert main(["evaluate", "--pred", str(pred_dir), "--ref", str(ref_dir), "--metrics", "psnr,niqe",
                 "--no-progress"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "| psnr ↑ | higher |" in text and "| niqe ↓ | lower |" in text
    assert "basicsr 1.4.2" in text  # the parameters used are named
    # An unavailable metric: a short cell, the whole reason once below the table, nothing on stderr.
    assert main(["evaluate", "--pred", str(pred_dir), "--ref", str(ref_dir), "--metrics", "psnr,lpips",
                 "--no-progress"]) == 0  # fmt: skip
    out = capsys.readouterr()
    row = next(line for line in out.out.splitlines() if line.startswith("| lpips ↓ | lower |"))
    assert row == "| lpips ↓ | lower | n/a | unavailable (see below) |"
    reason = next(line for line in out.out.splitlines() if line.startswith("lpips unavailable: "))
    assert out.out.count(reason[len("lpips unavailable: "):]) == 1 and "lpips" not in out.err
    assert main(["evaluate", "--pred", str(pred_dir), "--ref", str(ref_dir), "--metrics", "ssim",
                 "--csv", "--no-progress", "--color", "y", "--crop-border", "4"]) == 0  # fmt: skip
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "image,ssim"
    assert [line.split(",")[0] for line in lines[1:]] == ["astronaut", "coffee", "mean"]
    pred = read_image(pred_dir / "astronaut.png")[None]
    ref = read_image(ref_dir / "astronaut.png")[None]
    expected = ssim(pred, ref, color="y", crop_border=4).item()
    assert float(lines[1].split(",")[1]) == pytest.approx(expected, rel=1e-6)


def test_pairing_errors(folders, tmp_path, capsys):
    pred_dir, _ = folders
    other = tmp_path / "ref"
    write_image(other / "astronaut.png", torch.zeros(3, 192, 176))
    with pytest.raises(InputError, match=r"1 prediction\(s\) without a reference \(coffee\)"):
        evaluate(pred_dir, other, metrics="psnr", progress=False)
    assert main(["evaluate", "--pred", str(pred_dir), "--ref", str(other), "--metrics", "psnr"]) == 2
    assert "paired by stem" in capsys.readouterr().err
    with pytest.raises(InputError, match="unknown metric"):
        evaluate(pred_dir, other, metrics="psnr,vif")
    write_image(tmp_path / "small" / "astronaut.png", torch.zeros(3, 64, 64))
    write_image(tmp_path / "small" / "coffee.png", torch.zeros(3, 64, 64))
    with pytest.raises(InputError, match="but its reference"):
        evaluate(pred_dir, tmp_path / "small", metrics="psnr", progress=False)
    with pytest.raises(SystemExit):
        main(["evaluate", "--pred", str(pred_dir)])


@pytest.mark.registry
@pytest.mark.skipif(fid_weights.torchscript_path() is None, reason=f"needs {fid_weights.TORCHSCRIPT_PIP}")
def test_fid_is_a_set_metric_with_cached_reference(folders, tmp_path):
    pred_dir, ref_dir = folders
    stats = tmp_path / "ref_stats.npz"
    first = evaluate(pred_dir, ref_dir, metrics=["fid", "psnr"], fid_patch_size=96, fid_reference_stats=stats,
                     progress=False)  # fmt: skip
    data = first.to_json()
    assert list(data["mean"]) == ["fid", "psnr"]
    assert data["per_image"]["coffee"] == {"psnr": pytest.approx(first.per_image["coffee"]["psnr"])}
    assert data["mean"]["fid"] > 0 and stats.is_file()
    assert any("biased" in note for note in first.notes)
    # Second run reads the cached reference statistics (eigendecomposition path): same value.
    second = evaluate(pred_dir, ref_dir, metrics=["fid"], fid_patch_size=96, fid_reference_stats=stats,
                      progress=False)  # fmt: skip
    assert second.mean["fid"] == pytest.approx(first.mean["fid"], rel=1e-5)
    with pytest.raises(InputError, match="patch_size"):
        evaluate(pred_dir, ref_dir, metrics=["fid"], fid_patch_size=64, fid_reference_stats=stats, progress=False)
    same = evaluate(ref_dir, ref_dir, metrics=["fid"], fid_patch_size=96, progress=False)
    assert same.mean["fid"] == pytest.approx(0.0, abs=1e-6)


@pytest.mark.registry
@pytest.mark.skipif(fid_weights.torchscript_path() is None, reason=f"needs {fid_weights.TORCHSCRIPT_PIP}")
def test_kid_on_the_command_line_and_from_features(folders, tmp_path, capsys):
    import numpy as np

    from pdloss.metrics import set_metric_from_features
    from pdloss.metrics.evaluate import format_csv, format_markdown

    pred_dir, ref_dir = folders
    code = main(["evaluate", "--pred", str(pred_dir), "--ref", str(ref_dir), "--metrics", "kid,fid",
                 "--fid-patch", "96", "--json", "--no-progress"])  # fmt: skip
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["mean"]) == ["kid", "kid_std", "fid"]
    assert set(data["per_image"]["coffee"]) == set()  # set metrics only: nothing per image
    # 4 patches per side: every KID subset is the whole set (std 0); so few samples make the
    # unbiased estimate noisy enough to be negative, so only its presence is checked here.
    assert isinstance(data["mean"]["kid"], float) and data["mean"]["kid_std"] == 0.0
    # The features file reproduces the printed FID and KID (real Inception, 2x2 tiles per set).
    out = tmp_path / "features.npz"
    result = evaluate(pred_dir, ref_dir, metrics=["fid", "kid"], fid_patch_size=96, features_out=out, progress=False)
    with np.load(out) as f:
        assert f["pred_features"].shape == (4, 2048) and list(f["stems"]) == ["astronaut", "coffee"]
        assert f["ref_image"].tolist() == [0, 0, 1, 1]
        assert set_metric_from_features("fid", f["pred_features"], f["ref_features"]) == data["mean"]["fid"]
        assert set_metric_from_features("kid", f["pred_features"], f["ref_features"]) == data["mean"]["kid"]
    assert result.mean["kid"] == data["mean"]["kid"]
    table = format_markdown(result)
    # KID at the registry's 4 digits, as every other table prints it, with its subset spread.
    assert "| kid ↓ | lower |" in table and f"{data['mean']['kid']:.4f} ± 0.0000" in table
    assert format_csv(result).splitlines()[0] == "image,fid,kid,kid_std"
