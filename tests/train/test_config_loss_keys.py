"""A config's ``loss:`` keys come from the registered loss constructor's signature."""

from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from pdloss.config.schema import (
    ConfigError,
    apply_overrides,
    config_from_dict,
    ignored_loss_keys,
    load_raw,
    loss_arguments,
    loss_keys,
)
from pdloss.losses import registry
from pdloss.losses.base import FeatureLoss

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

# The hand-kept union of every loss's options the config module held before the keys were read
# from the signatures (``name`` aside): every one of them is still accepted by some loss.
HAND_KEPT_UNION = {
    "weight", "pixel_weight", "backbone", "layers", "layer_weights", "weights", "q", "p", "projection",
    "projection_factor", "seed", "resample", "bandwidth", "max_positions", "spatial_weight", "base_channels",
    "hidden", "pool_size", "validate", "num_proj", "patch_size", "stride", "phase_weight",
    "separate_phase_projections", "chunk_size", "small_maps", "phase_eps", "fft_norm",
}


def _config(loss: dict):
    return config_from_dict({"task": "denoise", "loss": loss})


def test_the_signatures_give_the_options_each_loss_documents():
    union = set().union(*(loss_keys(name) for name in registry.LOSSES))
    assert HAND_KEPT_UNION <= union
    # Per loss, as the registry's docstring lists them (the name fixes p / distance / q). The
    # feature losses share FeatureLoss's options, whatever options it gains later.
    feature = set(loss_keys("perceptual-l1"))
    assert {"weight", "pixel_weight", "backbone", "layers", "layer_weights", "weights", "q", "validate"} <= feature
    assert feature == set(loss_keys("perceptual-l2"))
    assert set(loss_keys("ctx-l2")) == feature | {"bandwidth", "max_positions", "spatial_weight", "seed"}
    assert set(loss_keys("pdl")) == feature | {"projection", "projection_factor", "seed", "resample", "p"}
    assert {"num_proj", "patch_size", "phase_weight", "fft_norm"} <= set(loss_keys("fdl"))
    assert set(loss_keys("adversarial")) == {
        "weight", "pixel_weight", "q", "validate", "base_channels", "hidden", "pool_size"
    }
    assert set(loss_keys("l1")) == {"validate"}
    assert registry.fixed_options("perceptual-l2") == {"p": 2} and registry.fixed_options("pdl") == {}
    # Objects built in code, and what the trainer fixes, are no config keys.
    assert not {"extractor", "discriminator", "reduction", "input_range"} & union


def test_a_key_of_another_loss_is_refused_by_name():
    assert _config({"name": "pdl", "projection": "rsp"}).loss["projection"] == "rsp"
    with pytest.raises(ConfigError) as caught:
        _config({"name": "perceptual-l1", "weight": 0.1, "projection": "rsp"})
    message = str(caught.value)
    assert "loss.projection" in message and "'perceptual-l1'" in message and "an option of pdl" in message
    assert message.endswith("perceptual-l1 accepts: name, " + ", ".join(sorted(loss_keys("perceptual-l1"))))
    with pytest.raises(ConfigError, match=r"loss\.num_proj for loss 'adversarial' \(an option of fdl\)"):
        _config({"name": "adversarial", "num_proj": 8})
    with pytest.raises(ConfigError, match=r"loss\.wieght for loss 'pdl'; pdl accepts: name, backbone"):
        _config({"name": "pdl", "wieght": 1})


@pytest.mark.parametrize("key,value", [("reduction", "sum"), ("input_range", [-1, 1]), ("extractor", None)])
def test_constructor_arguments_a_config_cannot_set(key, value):
    with pytest.raises(ConfigError, match=rf"unknown key loss\.{key} for loss 'pdl';"):
        _config({"name": "pdl", key: value})


def test_an_option_the_name_fixes_is_refused():
    with pytest.raises(ConfigError, match=r"loss\.p: loss 'perceptual-l2' fixes p=2"):
        _config({"name": "perceptual-l2", "p": 1})
    with pytest.raises(ConfigError, match=r"loss\.q: loss 'l1' fixes q=1"):
        _config({"name": "l1", "q": 2})


def test_losses_without_a_feature_network_ignore_a_sweeps_shared_options():
    # A preset's base `loss: {name: l1, weights: vgg16-hed}` whose rows switch to a feature loss.
    shared = {"weights": "vgg16-hed", "layers": ["relu4_3"], "weight": 0.02, "seed": 1, "projection": "rsp"}
    assert loss_arguments(_config({"name": "l1", **shared}).loss) == {}
    assert loss_arguments(_config({"name": "l1", "validate": True, **shared}).loss) == {"validate": True}
    # The GAN leaves out the VGG options only: its own keys reach it, another loss's are refused.
    gan = {"name": "adversarial", "weights": "vgg16-hed", "layers": ["relu4_3"], "weight": 0.004, "hidden": 8}
    assert loss_arguments(_config(gan).loss) == {"weight": 0.004, "hidden": 8}
    assert ignored_loss_keys("adversarial") == {"backbone", "layers", "layer_weights", "weights"}
    with pytest.raises(ConfigError, match=r"loss\.seed for loss 'adversarial'"):
        _config({**gan, "seed": 1})
    # A feature loss ignores nothing: every key reaches its constructor.
    assert ignored_loss_keys("pdl") == frozenset()
    assert loss_arguments({"name": "pdl", "weight": 0.1, "seed": 3}) == {"weight": 0.1, "seed": 3}
    with pytest.raises(ConfigError, match=r"loss\.colour for loss 'l1'; l1 accepts: name, validate$"):
        _config({"name": "l1", "colour": 1})


class _NewOptionLoss(FeatureLoss):
    """A feature loss with an option no shipped loss has; never built, only inspected."""

    def __init__(self, weight: float = 0.01, *, sharpness: float = 1.0, **kwargs) -> None:
        super().__init__(weight, **kwargs)
        self.sharpness = sharpness


class _PlainLoss(nn.Module):
    def __init__(self, scale: float = 1.0, discriminator: nn.Module | None = None) -> None:
        super().__init__()
        self.scale = scale


def test_a_new_constructor_option_is_accepted_with_no_other_edit(monkeypatch):
    monkeypatch.setitem(registry.LOSSES, "pdl", _NewOptionLoss)
    config = _config({"name": "pdl", "sharpness": 2.5, "layers": ["relu1_2"], "weight": 0.1})
    assert loss_arguments(config.loss) == {"sharpness": 2.5, "layers": ["relu1_2"], "weight": 0.1}
    # The base class's options come along through **kwargs; the old PDL-only ones are gone.
    assert "sharpness" in loss_keys("pdl") and "pixel_weight" in loss_keys("pdl")
    with pytest.raises(ConfigError, match=r"loss\.projection for loss 'pdl'"):
        _config({"name": "pdl", "projection": "rsp"})
    # A new name with its own class: the name and its option validate; internal arguments stay out.
    monkeypatch.setitem(registry.LOSSES, "plain", _PlainLoss)
    assert loss_keys("plain") == ("scale",)
    assert _config({"name": "plain", "scale": 3.0}).loss == {"name": "plain", "scale": 3.0}
    with pytest.raises(ConfigError, match=r"loss\.discriminator for loss 'plain'; plain accepts: name, scale$"):
        _config({"name": "plain", "discriminator": None})


def _preset_runs() -> list[tuple[str, dict]]:
    if not CONFIGS.is_dir():
        return []
    from pdloss.sweep import plan_runs

    runs = []
    for path in sorted(CONFIGS.glob("*.yaml")):
        raw = load_raw(path)
        runs.append((path.name, raw))
        runs += [(f"{path.name}:{run.name}", apply_overrides(raw, run.overrides)) for run in plan_runs(raw)]
    return runs


def test_every_preset_and_sweep_row_validates():
    runs = _preset_runs()
    if not runs:
        pytest.skip(f"no presets in {CONFIGS}")
    assert len(runs) > len(list(CONFIGS.glob("*.yaml")))  # the sweep rows were planned too
    names = set()
    for label, raw in runs:
        config = config_from_dict(raw)
        names.add(config.loss["name"])
        assert set(loss_arguments(config.loss)) <= set(loss_keys(config.loss["name"])), label
    assert {"l1", "pdl", "perceptual-l1", "fdl"} <= names
