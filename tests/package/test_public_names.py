"""Every pdloss name that README.md and the guides (docs/*.md) use in their code exists.

The names are read from the Markdown files themselves, so a renamed or removed public name fails
here until the documentation (or a deprecated alias) follows: ``from pdloss.X import a, b``,
``import pdloss.X`` and dotted references ``pdloss.X.y`` in fenced code blocks and in inline code.
Deprecated aliases are also checked to warn once and to resolve to their new names.
"""

from __future__ import annotations

import importlib
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
FROM_IMPORT = re.compile(r"^[ \t]*from[ \t]+(pdloss(?:\.\w+)*)[ \t]+import[ \t]+(?:\(([^)]*)\)|([\w \t,]+))", re.M)
IMPORT = re.compile(r"^\s*import\s+(pdloss(?:\.\w+)*)", re.M)
DOTTED = re.compile(r"(?<![\w./-])(pdloss(?:\.\w+)+)")


def _code(text: str) -> tuple[list[str], list[str]]:
    blocks = FENCE.findall(text)
    prose = FENCE.sub("", text)
    return blocks, INLINE.findall(prose)


def documented_names() -> dict[str, set[str]]:
    """``{"module:name" or "dotted.path": {documents using it}}``."""
    found: dict[str, set[str]] = {}
    for path in DOCUMENTS:
        blocks, spans = _code(path.read_text())
        for code in [*blocks, *spans]:
            for module, grouped, names in FROM_IMPORT.findall(code):
                for name in (n.strip() for n in (grouped or names).replace("\n", ",").split(",")):
                    if name and not name.startswith("#"):
                        found.setdefault(f"{module}:{name.split()[0]}", set()).add(path.name)
            for module in IMPORT.findall(code):
                found.setdefault(module, set()).add(path.name)
            for dotted in DOTTED.findall(code):
                found.setdefault(dotted.rstrip("."), set()).add(path.name)
    return found


def resolve(reference: str) -> object:
    """Import ``module:name`` or the longest importable module prefix of ``a.b.c`` and get the rest."""
    if ":" in reference:
        module, name = reference.split(":")
        return getattr(importlib.import_module(module), name)
    parts = reference.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            value = getattr(value, attribute)
        return value
    raise ModuleNotFoundError(reference)


NAMES = documented_names()


def test_the_documents_name_enough_to_check():
    # The README's loss example and the functional API at least: a parser that found nothing would pass.
    assert "pdloss:ProjectedDistributionLoss" in NAMES
    assert "pdloss.functional:wasserstein_1d" in NAMES
    assert len(NAMES) > 20


@pytest.mark.parametrize("reference", sorted(NAMES))
def test_documented_name_exists(reference):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the documents use the current names
        resolve(reference)


def test_the_package_root_lists_its_public_names_lazily():
    import pdloss

    for name in pdloss.__all__:
        assert name in dir(pdloss)
        assert getattr(pdloss, name) is not None
    assert {"ProjectedDistributionLoss", "PerceptualLoss", "ContextualLoss", "autocast_dtype", "restore"} <= set(
        pdloss.__all__
    )
    assert callable(pdloss.restore)


@pytest.mark.parametrize(
    "old, new",
    [
        ("pdloss.degradations:make_degradation", "pdloss.degradations:build_degradation"),
        ("pdloss.degradations:task_names", "pdloss.degradations:list_tasks"),
        ("pdloss.degradations:TASKS", "pdloss.degradations:DEGRADATIONS"),
        ("pdloss.features:get_extractor", "pdloss.features:build_extractor"),
        ("pdloss.models:MODELS", "pdloss.models:MODEL_SPECS"),
        ("pdloss.models:TASKS", "pdloss.models:TASK_IO"),
        ("pdloss.models:bilinear_demosaic", "pdloss.degradations:bilinear_demosaic"),
    ],
)
def test_old_names_warn_once_and_are_the_new_ones(old, new):
    from pdloss import _deprecation

    _deprecation._warned.discard(old.replace(":", "."))
    with pytest.warns(DeprecationWarning, match=new.split(":")[1]):
        first = resolve(old)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert resolve(old) is first  # the second use is silent
    assert first is resolve(new)


def test_old_listing_constants_hold_the_listings():
    from pdloss import _deprecation
    from pdloss.losses import list_losses
    from pdloss.metrics import list_metrics

    _deprecation._warned.clear()
    with pytest.warns(DeprecationWarning, match="list_losses"):
        assert resolve("pdloss.losses:LOSS_NAMES") == tuple(list_losses())
    with pytest.warns(DeprecationWarning, match="list_metrics"):
        assert resolve("pdloss.metrics:METRICS") == tuple(list_metrics())
    with pytest.warns(DeprecationWarning, match="moved to pdloss.functional.sorting"):
        import sys

        sys.modules.pop("pdloss.sorting", None)
        importlib.import_module("pdloss.sorting")


def test_the_old_config_module_is_the_new_one_and_warns():
    import sys

    from pdloss.config import schema

    sys.modules.pop("pdloss.train.config", None)
    with pytest.warns(DeprecationWarning, match="moved to pdloss.config.schema"):
        old = importlib.import_module("pdloss.train.config")
    assert old is schema and old.Config is schema.Config
