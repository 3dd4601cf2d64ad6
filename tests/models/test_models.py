"""The restoration networks: parameter counts (derived from the reference layer lists), shapes
for odd sizes, gradients, a few optimisation steps, state dicts, and analytic outputs."""

from __future__ import annotations

import io
import math

import pytest
import torch

from pdloss.degradations import mosaic
from pdloss.errors import InputError
from pdloss.models import (
    EDSR,
    PSSNSC,
    SRN,
    TASK_IO,
    SmallUNet,
    build_model,
    count_parameters,
    parameter_count,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def conv(cin: int, cout: int, k: int) -> int:
    """Weights plus biases of a k x k (transposed) convolution."""
    return k * k * cin * cout + cout


# Derivations from the reference layer definitions (see docs/models.md).
SRN_COUNT = (
    conv(6, 32, 5) + 6 * 2 * conv(32, 32, 5)  # enc1_1; 3 + 3 ResBlocks at 32
    + conv(32, 64, 5) + 6 * 2 * conv(64, 64, 5)  # enc2_1; ResBlocks at 64
    + conv(64, 128, 5) + 6 * 2 * conv(128, 128, 5)  # enc3_1; ResBlocks at 128
    + conv(128, 64, 4) + conv(64, 32, 4) + conv(32, 3, 5)  # dec2_4, dec1_4, dec1_0
)
LSTM_COUNT = conv(128 + 128, 4 * 128, 3)
EDSR_BASE_COUNT = (conv(3, 64, 3) + 16 * 2 * conv(64, 64, 3) + conv(64, 64, 3) + 2 * conv(64, 256, 3)
                   + conv(64, 3, 3))
EDSR_COUNT = (conv(3, 256, 3) + 32 * 2 * conv(256, 256, 3) + conv(256, 256, 3) + 2 * conv(256, 1024, 3)
              + conv(256, 3, 3))
PSSNSC_COUNT = (
    3 * (conv(2, 32, 3) + conv(32, 64, 3) + conv(64, 128, 3)  # private layers of each scale
         + conv(128, 64, 4) + conv(64, 32, 4) + conv(32, 1, 3))
    + 2 * 8 * (conv(32, 32, 3) + conv(64, 64, 3) + conv(128, 128, 3))  # six nested-skip blocks of 8 convs
)

DOCUMENTED = {  # the figures stated in docs/models.md
    "srn": 6_881_251,
    "srn-lstm": 8_061_411,
    "edsr-baseline": 1_517_571,
    "edsr": 43_089_923,
    "pssnsc": 3_871_715,
    "small-unet": 459_299,
}


def test_documented_counts_match_the_derivations():
    assert DOCUMENTED["srn"] == SRN_COUNT
    assert DOCUMENTED["srn-lstm"] == SRN_COUNT + LSTM_COUNT
    assert DOCUMENTED["edsr-baseline"] == EDSR_BASE_COUNT
    assert DOCUMENTED["edsr"] == EDSR_COUNT
    assert DOCUMENTED["pssnsc"] == PSSNSC_COUNT


@pytest.mark.parametrize("name", list(DOCUMENTED))
def test_parameter_counts_equal_documented_figures(name):
    assert parameter_count(name) == DOCUMENTED[name]


def test_parameter_counts_of_real_modules():
    # Counted on allocated modules (not the meta device) for the small ones.
    assert count_parameters(build_model("srn")) == DOCUMENTED["srn"]
    assert count_parameters(build_model("pssnsc")) == DOCUMENTED["pssnsc"]
    assert count_parameters(build_model("edsr-baseline")) == DOCUMENTED["edsr-baseline"]
    # Other tasks: EDSR at scale 1 has no upsampler, small-unet's x4 tail predicts 48 planes.
    assert parameter_count("edsr-baseline", "denoise") == EDSR_BASE_COUNT - 2 * conv(64, 256, 3)
    x4_tail = conv(32, 48, 3) - conv(32, 3, 3)
    assert parameter_count("small-unet", "sr4x") == DOCUMENTED["small-unet"] + x4_tail
    assert parameter_count("srn", "demosaic") == DOCUMENTED["srn"]


# (model, task, size): odd sizes; the big models at small sizes.
SHAPE_CASES = [
    ("srn", "denoise", (13, 19)),
    ("srn", "jpeg", (17, 10)),
    ("srn", "demosaic", (11, 9)),
    ("srn", "sr4x", (5, 3)),
    ("srn-lstm", "denoise", (13, 19)),
    ("edsr-baseline", "sr4x", (7, 9)),
    ("edsr-baseline", "denoise", (7, 9)),
    ("edsr", "sr4x", (5, 3)),
    ("pssnsc", "deblur", (13, 19)),
    ("pssnsc", "demosaic", (9, 7)),
    *[("small-unet", task, (13, 7)) for task in TASK_IO],
]


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize(("name", "task", "size"), SHAPE_CASES)
def test_output_shapes_for_odd_sizes(name, task, size, batch):
    model = build_model(name, task)
    channels = 1 if task == "demosaic" else 3
    x = torch.rand(batch, channels, *size)
    with torch.no_grad():
        y = model(x)
    scale = 4 if task == "sr4x" else 1
    assert y.shape == (batch, 3, size[0] * scale, size[1] * scale)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", ["srn", "pssnsc"])
def test_multiscale_outputs_coarse_to_fine(name):
    model = build_model(name)
    with torch.no_grad():
        outs = model(torch.rand(2, 3, 13, 19), return_all_scales=True)
        final = model(torch.rand(2, 3, 13, 19))
    assert [o.shape[-2:] for o in outs] == [(4, 5), (7, 10), (13, 19)]  # ceil(H r) x ceil(W r)
    assert model.n_scales == 3 and build_model("edsr-baseline").n_scales == 1
    assert final.shape == outs[-1].shape


def _randomise(model: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)


@pytest.mark.parametrize(
    ("name", "task", "size", "kwargs"),
    [
        ("srn", "denoise", (16, 16), {}),
        ("srn-lstm", "jpeg", (16, 16), {}),
        ("edsr-baseline", "sr4x", (6, 6), {}),
        ("edsr", "sr4x", (4, 4), {}),
        ("pssnsc", "deblur", (16, 16), {}),
        ("small-unet", "sr4x", (8, 8), {}),
        ("small-unet", "demosaic", (8, 8), {}),
    ],
)
def test_gradients_reach_every_parameter(name, task, size, kwargs):
    model = build_model(name, task, **kwargs)
    _randomise(model, 1)  # zero-initialised layers (LSTM, biases) would hide dead paths
    x = torch.rand(1, 1 if task == "demosaic" else 3, *size)
    outs = model(x, return_all_scales=True)  # the multi-scale loss of SRN / PSS-NSC
    sum(o.square().mean() for o in outs).backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{pname} got no gradient"
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, f"{pname} has a zero gradient"


def test_pssnsc_coarse_scales_learn_only_from_their_own_outputs():
    # As released (stop-gradient between scales): the final output alone does not train the
    # private layers of the coarser scales, which is why a multi-scale loss is needed.
    model = PSSNSC()
    _randomise(model, 2)
    model(torch.rand(1, 1, 16, 16)).square().mean().backward()
    assert model.scales[0].enc1_1.weight.grad is None
    assert model.scales[2].enc1_1.weight.grad.abs().sum() > 0
    free = PSSNSC(stop_gradient=False)
    _randomise(free, 2)
    free(torch.rand(1, 1, 16, 16)).square().mean().backward()
    assert free.scales[0].enc1_1.weight.grad.abs().sum() > 0


def _fixed_pair(task: str, size: int = 16):
    g = torch.Generator().manual_seed(3)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 4 * size), torch.linspace(0, 1, 4 * size), indexing="ij")
    target = torch.stack([0.5 + 0.4 * torch.sin(6 * xx + 3 * yy), 0.5 + 0.3 * torch.cos(5 * yy), xx * yy])
    target = target[None]
    if task == "sr4x":
        lr = torch.nn.functional.avg_pool2d(target, 4)
        return lr, target
    target = target[..., :size, :size].contiguous()
    return target + 0.1 * torch.randn(target.shape, generator=g), target


@pytest.mark.parametrize(
    ("name", "task", "kwargs", "steps", "lr", "factor"),
    [
        # small-unet starts at the identity (loss = the noise level): it must remove some noise.
        ("small-unet", "denoise", {}, 25, 3e-3, 0.85),
        ("edsr-baseline", "sr4x", {"n_resblocks": 2, "n_feats": 16}, 15, 1e-3, 0.7),
        ("srn", "denoise", {}, 8, 2e-4, 0.7),
    ],
)
def test_optimisation_steps_reduce_the_loss(name, task, kwargs, steps, lr, factor):
    model = build_model(name, task, **kwargs)
    x, y = _fixed_pair(task)
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def loss_fn():
        outs = model(x, return_all_scales=True)
        resize = torch.nn.functional.interpolate
        targets = [resize(y, size=o.shape[-2:], mode="bilinear", antialias=True) for o in outs]
        return sum((o - t).abs().mean() for o, t in zip(outs, targets, strict=True))

    first = loss_fn().item()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
    last = loss_fn().item()
    assert last < factor * first, (first, last)


@pytest.mark.parametrize(("name", "task"), [("srn-lstm", "denoise"), ("edsr-baseline", "sr4x"),
                                            ("pssnsc", "deblur"), ("small-unet", "demosaic")])
def test_state_dict_round_trip(name, task):
    a = build_model(name, task)
    _randomise(a, 4)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b = build_model(name, task)
    b.load_state_dict(torch.load(buf, weights_only=True))
    x = torch.rand(1, 1 if task == "demosaic" else 3, 9, 11)
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)


def test_edsr_state_dict_keys_follow_the_reference():
    keys = set(EDSR(4, n_resblocks=2, n_feats=8).state_dict())
    expected = {"sub_mean.weight", "sub_mean.bias", "add_mean.weight", "add_mean.bias", "head.0.weight",
                "head.0.bias", "body.2.weight", "body.2.bias", "tail.0.0.weight", "tail.0.0.bias",
                "tail.0.2.weight", "tail.0.2.bias", "tail.1.weight", "tail.1.bias"}
    expected |= {f"body.{i}.body.{j}.{t}" for i in range(2) for j in (0, 2) for t in ("weight", "bias")}
    assert keys == expected
    assert {k for k in EDSR(3, n_resblocks=1, n_feats=8).state_dict() if k.startswith("tail.0")} == {
        "tail.0.0.weight", "tail.0.0.bias"}


def test_edsr_with_zero_weights_outputs_the_div2k_mean_and_rgb_range_is_invisible():
    for rgb_range in (1.0, 255.0):
        model = EDSR(2, n_resblocks=1, n_feats=8, rgb_range=rgb_range)
        with torch.no_grad():
            for p in model.parameters():
                p.zero_()
            y = model(torch.rand(1, 3, 5, 6))
        expected = torch.tensor([0.4488, 0.4371, 0.4040]).view(1, 3, 1, 1).expand(1, 3, 10, 12)
        torch.testing.assert_close(y, expected)
    # ReLU networks are positively homogeneous: with every conv bias multiplied by 255, the
    # rgb_range=255 network computes 255x the features of the rgb_range=1 one, and since inputs
    # and outputs stay in [0, 1] both give the same image (the reference's 0-255 models load so).
    a, b = EDSR(2, n_resblocks=2, n_feats=8), EDSR(2, n_resblocks=2, n_feats=8, rgb_range=255.0)
    _randomise(a, 8)
    b.load_state_dict(a.state_dict() | {k: v for k, v in b.state_dict().items() if "mean" in k})
    with torch.no_grad():
        for name, p in b.named_parameters():
            if name.endswith("bias"):
                p.mul_(255)
        x = torch.rand(1, 3, 5, 6)
        torch.testing.assert_close(a(x), b(x), rtol=1e-4, atol=1e-5)


def test_pssnsc_zero_weights_return_the_input_and_channels_are_independent():
    model = PSSNSC()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    x = torch.rand(1, 3, 13, 9)
    with torch.no_grad():
        torch.testing.assert_close(model(x), x)  # residual output
    _randomise(model, 5)
    with torch.no_grad():
        y = model(x)
        torch.testing.assert_close(y[:, 1:2], model(x[:, 1:2]), rtol=1e-3, atol=1e-3)  # per channel
    # Selective sharing: one nested-skip block per stage, private layers per scale.
    assert len(model.scales) == 3
    assert model.scales[0].enc1_1.weight.data_ptr() != model.scales[1].enc1_1.weight.data_ptr()


def test_small_unet_starts_near_identity_and_bicubic():
    model = SmallUNet(scale=4)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        x = torch.rand(1, 3, 6, 7)
        ref = torch.nn.functional.interpolate(x, scale_factor=4, mode="bicubic", align_corners=False)
        torch.testing.assert_close(model(x), ref)


def test_srn_shares_weights_across_scales_and_lstm_state_flows():
    model = SRN(lstm=True)
    assert count_parameters(model) == SRN_COUNT + LSTM_COUNT  # one set for all three scales
    _randomise(model, 6)
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        outs = model(x, return_all_scales=True)
        model.lstm.conv.weight.zero_()
        model.lstm.conv.bias.zero_()
        outs_zero = model(x, return_all_scales=True)
    assert not torch.allclose(outs[0], outs_zero[0])
    assert math.isfinite(outs[-1].sum().item())


def test_demosaic_pattern_per_call():
    model = build_model("small-unet", "demosaic", pattern="grbg")
    _randomise(model, 7)
    rgb = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        default = model(mosaic(rgb, "grbg"))
        explicit = model(mosaic(rgb, "grbg"), pattern="grbg")
        other = model(mosaic(rgb, "grbg"), pattern="bggr")
    torch.testing.assert_close(default, explicit)
    assert not torch.allclose(default, other)


def test_clear_errors():
    with pytest.raises(InputError, match="unknown model"):
        build_model("vdsr")
    with pytest.raises(InputError, match="unknown task"):
        build_model("srn", "inpaint")
    with pytest.raises(InputError, match="bad option"):
        build_model("srn", depth=3)
    with pytest.raises(InputError, match="channels"):
        build_model("small-unet", "demosaic")(torch.rand(1, 3, 8, 8))
    with pytest.raises(InputError, match="channels"):
        build_model("small-unet", "denoise")(torch.rand(1, 1, 8, 8))
    with pytest.raises(InputError, match="only used by the demosaic"):
        build_model("small-unet", "denoise")(torch.rand(1, 3, 8, 8), pattern="rggb")
    with pytest.raises(InputError, match=r"\(B, C, H, W\)"):
        build_model("small-unet")(torch.rand(3, 8, 8))
    with pytest.raises(InputError, match="Bayer pattern"):
        build_model("srn", "demosaic", pattern="rgbg")
