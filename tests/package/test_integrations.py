"""The drop-in loss files of docs/integrations.md (examples/integrations/<framework>/pdl_loss.py),
exercised the way each framework calls them, against minimal stand-ins of the framework's own
interface (injected through ``sys.modules``; the frameworks themselves are not installed):

- registration: an fvcore-style ``Registry`` whose ``@LOSS_REGISTRY.register()`` files a class
  under its ``__name__`` (lower-cased in traiNNer-redux), imported from
  ``<framework>.utils.registry``; every ``*_loss.py`` of the ``losses/`` folder is imported;
- construction: ``build_loss(opt)`` pops ``type`` from the option dict of the shipped options
  file and calls ``LOSS_REGISTRY.get(type)(**opt)``, then ``.to(device, ...)`` as the model does;
- the call and its return form: BasicSR's perceptual slot unpacks ``(percep, style)`` and adds
  what is not None; neosr adds the returned (already weighted) tensor; traiNNer-redux multiplies
  the returned value by ``abs(loss.loss_weight)``.

The VGG is the seeded random one (``weights: random`` in place of the file's ``vgg16-hed``), so no
weights file or network is needed.
"""

from __future__ import annotations

import copy
import importlib.util
import shutil
import sys
import types
from pathlib import Path

import pytest
import torch
import yaml

from pdloss.losses import ProjectedDistributionLoss

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "integrations"
TEST_WEIGHTS = "random"  # the options files name vgg16-hed; tests need no weights file


class StandInRegistry:
    """The registries of BasicSR, neosr and traiNNer-redux (all modified from fvcore's): a name ->
    class map filled by ``register()`` as a decorator; ``get(name)`` falls back to
    ``name_<suffix>`` and raises KeyError; traiNNer-redux lower-cases names on both sides."""

    def __init__(self, name: str, suffix: str, lower: bool = False) -> None:
        self._name, self._suffix, self._lower = name, suffix, lower
        self._obj_map: dict[str, type] = {}

    def _key(self, name: str) -> str:
        return name.lower() if self._lower else name

    def register(self, obj=None, suffix=None):
        def deco(cls):
            name = self._key(cls.__name__) + (f"_{suffix}" if isinstance(suffix, str) else "")
            assert name not in self._obj_map, f"An object named '{name}' was already registered"
            self._obj_map[name] = cls
            return cls

        return deco if obj is None else deco(obj)

    def get(self, name: str, suffix: str | None = None):
        name = self._key(name)
        found = self._obj_map.get(name) or self._obj_map.get(f"{name}_{suffix or self._suffix}")
        if found is None:
            raise KeyError(f"No object named '{name}' found in '{self._name}' registry!")
        return found


def build_loss(registry: StandInRegistry, opt: dict) -> torch.nn.Module:
    """The frameworks' ``losses.build_loss``."""
    opt = copy.deepcopy(opt)
    loss_type = opt.pop("type")
    return registry.get(loss_type)(**opt)


def install_framework(monkeypatch, package: str, registry: StandInRegistry) -> None:
    """``<package>``, ``<package>.utils`` and ``<package>.utils.registry.LOSS_REGISTRY`` in sys.modules."""
    for name in (package, f"{package}.utils", f"{package}.losses"):
        module = types.ModuleType(name)
        module.__path__ = []  # a package, so that submodules can be named under it
        monkeypatch.setitem(sys.modules, name, module)
    module = types.ModuleType(f"{package}.utils.registry")
    module.LOSS_REGISTRY = registry
    monkeypatch.setitem(sys.modules, module.__name__, module)


def import_losses_folder(monkeypatch, package: str, folder: Path) -> None:
    """What the frameworks' ``losses/__init__.py`` does: import every ``*_loss.py`` of the folder."""
    for path in sorted(folder.glob("*_loss.py")):
        name = f"{package}.losses.{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)


def drop_in(tmp_path: Path, framework: str) -> Path:
    """The framework's losses/ folder with the drop-in file copied into it, as a user does."""
    folder = tmp_path / "losses"
    folder.mkdir()
    shutil.copy(EXAMPLES / framework / "pdl_loss.py", folder / "pdl_loss.py")
    return folder


def images(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(2, 3, 32, 32, generator=g)
    pred = (gt + 0.1 * torch.randn(2, 3, 32, 32, generator=g)).requires_grad_(True)
    return pred, gt


def reference(opt: dict, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """pdloss's own loss on the same options: lambda 1, no pixel term."""
    options = {k: v for k, v in opt.items() if k not in ("type", "loss_weight")}
    with torch.no_grad():
        return ProjectedDistributionLoss(weight=1.0, pixel_weight=0.0, **options)(pred, gt)


def with_test_weights(opt: dict) -> dict:
    assert opt["weights"] == "vgg16-hed"  # what the shipped file tells users
    return {**opt, "weights": TEST_WEIGHTS}


@pytest.fixture(autouse=True)
def _needs_examples():
    if not EXAMPLES.is_dir():
        pytest.skip(f"needs the checkout's {EXAMPLES}")


def test_basicsr_perceptual_slot(tmp_path, monkeypatch):
    registry = StandInRegistry("loss", suffix="basicsr")
    install_framework(monkeypatch, "basicsr", registry)
    import_losses_folder(monkeypatch, "basicsr", drop_in(tmp_path, "basicsr"))
    train = yaml.safe_load((EXAMPLES / "basicsr" / "options.yml").read_text())["train"]
    opt = with_test_weights(train["perceptual_opt"])
    assert opt["type"] == "ProjectedDistributionLoss" and opt["loss_weight"] == 0.01

    pred, gt = images()
    cri_perceptual = build_loss(registry, opt).to(torch.device("cpu"))
    # SRModel.optimize_parameters: l_percep, l_style = self.cri_perceptual(self.output, self.gt)
    result = cri_perceptual(pred, gt)
    assert isinstance(result, tuple) and len(result) == 2
    l_percep, l_style = result
    assert l_style is None and l_percep.shape == ()
    torch.testing.assert_close(l_percep.detach(), 0.01 * reference(opt, pred, gt))
    l_percep.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0

    tripled = build_loss(registry, {**opt, "loss_weight": 0.03})(pred, gt)[0]
    torch.testing.assert_close(tripled.detach(), 3 * l_percep.detach())


def test_neosr_perceptual_slot(tmp_path, monkeypatch):
    tomllib = pytest.importorskip("tomllib", reason="reading neosr's TOML options needs Python >= 3.11")
    registry = StandInRegistry("loss", suffix="neosr")
    install_framework(monkeypatch, "neosr", registry)
    import_losses_folder(monkeypatch, "neosr", drop_in(tmp_path, "neosr"))
    train = tomllib.loads((EXAMPLES / "neosr" / "options.toml").read_text())["train"]
    opt = with_test_weights(train["perceptual_opt"])
    assert opt["type"] == "pdl_loss" and opt["loss_weight"] == 0.01

    pred, gt = images(1)
    # image.init_training_settings / closure: built, moved, called; the result is added as it is.
    cri_perceptual = build_loss(registry, opt).to(torch.device("cpu"), memory_format=torch.channels_last,
                                                  non_blocking=True)
    l_g_percep = cri_perceptual(pred, gt)
    assert isinstance(l_g_percep, torch.Tensor) and l_g_percep.shape == ()
    torch.testing.assert_close(l_g_percep.detach(), 0.01 * reference(opt, pred, gt))
    l_g_total = 0
    l_g_total += l_g_percep
    l_g_total.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0

    doubled = build_loss(registry, {**opt, "loss_weight": 0.02})(pred, gt)
    torch.testing.assert_close(doubled.detach(), 2 * l_g_percep.detach())


# torch.compile's first import warns from inside torch about torch.jit.script_method.
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_traiNNer_redux_losses_list(tmp_path, monkeypatch):
    registry = StandInRegistry("loss", suffix="traiNNer", lower=True)
    install_framework(monkeypatch, "traiNNer", registry)
    import_losses_folder(monkeypatch, "traiNNer", drop_in(tmp_path, "traiNNer-redux"))
    losses = yaml.safe_load((EXAMPLES / "traiNNer-redux" / "options.yml").read_text())["train"]["losses"]
    opt = with_test_weights(next(o for o in losses if o["type"] == "projecteddistributionloss"))
    assert opt["loss_weight"] == 0.01
    assert registry.get("ProjectedDistributionLoss") is registry.get(opt["type"])  # names are case-blind

    pred, gt = images(2)
    # SRModel.init_training_settings: every loss defines type and loss_weight; built and moved.
    assert "type" in opt and "loss_weight" in opt and float(opt["loss_weight"]) != 0
    loss = build_loss(registry, opt).to(torch.device("cpu"), memory_format=torch.preserve_format, non_blocking=True)
    # SRModel.optimize_parameters: l_g_loss = loss(self.output, target); weighted by the trainer.
    l_g_loss = loss(pred, gt)
    assert loss.loss_weight == 0.01
    torch.testing.assert_close(l_g_loss.detach(), reference(opt, pred, gt))  # unweighted
    weighted = l_g_loss * abs(loss.loss_weight)
    torch.testing.assert_close(weighted.detach(), 0.01 * reference(opt, pred, gt))
    weighted.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0

    # With use_compile the trainer holds torch.compile(loss) and still reads .loss_weight from it.
    assert torch.compile(loss).loss_weight == 0.01

    other = build_loss(registry, {**opt, "loss_weight": 0.05})
    assert other.loss_weight == 0.05
    torch.testing.assert_close(other(pred, gt).detach(), l_g_loss.detach())  # the weight is the trainer's job


@pytest.mark.parametrize(("framework", "package"), [("basicsr", "basicsr"), ("neosr", "neosr"),
                                                     ("traiNNer-redux", "traiNNer")])
def test_drop_in_needs_its_framework(framework, package, monkeypatch):
    """The file is the framework's loss module: without the framework it does not import (and
    importing pdloss never imports it)."""
    for name in list(sys.modules):
        if name == package or name.startswith(package + "."):
            monkeypatch.delitem(sys.modules, name)
    spec = importlib.util.spec_from_file_location(f"dropin_{package}", EXAMPLES / framework / "pdl_loss.py")
    with pytest.raises(ModuleNotFoundError, match=package):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))
