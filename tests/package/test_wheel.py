"""The wheel as a pip user meets it: built from an sdist of the checkout, installed into a fresh
virtual environment outside the checkout, and used from a folder outside it.

The fresh environment sees the dependencies already installed in this one (a ``.pth`` file naming
this environment's site-packages, added after the wheel is installed, so pip never sees the
checkout's editable install); pdloss itself comes from the wheel only, which the first test checks.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import math
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import pdloss
from package.readme_support import ROOT, readme_python_example, vgg16_hed_home

pytestmark = pytest.mark.slow

# What `python -m build` needs from the checkout (the sdist's own MANIFEST.in picks from these).
TREE = ["pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "LICENSE", "CITATION.cff", "CHANGELOG.md"]


def _run(argv: list, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """The sdist and wheel `python -m build --no-isolation` makes from a copy of the checkout."""
    if importlib.util.find_spec("build") is None:
        pytest.skip("needs the `build` package (the dev extra: pip install -e '.[dev]')")
    # --no-isolation builds with this environment's setuptools, which must read the SPDX licence.
    setuptools = importlib.metadata.version("setuptools")
    if int(setuptools.split(".")[0]) < 77:
        pytest.skip(f"building needs setuptools>=77 here, found {setuptools} (the dev extra: pip install -e '.[dev]')")
    work = tmp_path_factory.mktemp("wheel")
    tree = work / "tree"  # a copy, so that the build writes nothing into the checkout
    tree.mkdir()
    for name in TREE:
        shutil.copy2(ROOT / name, tree / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "src", tree / "src", ignore=ignore)
    shutil.copytree(ROOT / "configs", tree / "configs", ignore=ignore)
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", work / "dist", tree], cwd=work)
    (wheel,) = (work / "dist").glob("pdloss-*.whl")
    (sdist,) = (work / "dist").glob("pdloss-*.tar.gz")
    return {"work": work, "wheel": wheel, "sdist": sdist}


@pytest.fixture(scope="module")
def venv(built) -> Path:
    """A fresh venv outside the checkout with the wheel installed (--no-deps); returns its bin folder."""
    root = built["work"] / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", root], cwd=built["work"])
    python = root / "bin" / "python"
    _run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--python", python, "install", "-q",
         "--no-deps", "--no-index", built["wheel"]],
        cwd=built["work"],
    )
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=built["work"])
    # Only now the dependencies: plain paths in a .pth are not site folders, so the checkout's
    # editable-install .pth in this environment's site-packages is not read there.
    Path(purelib.stdout.strip(), "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return root / "bin"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    return {**env, "PDLOSS_HOME": str(home), "PDLOSS_OFFLINE": "1"}


def test_wheel_holds_presets_licence_and_version(built):
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"pdloss-{pdloss.__version__}.dist-info/METADATA").decode()
        for config in (ROOT / "configs").glob("*.yaml"):
            assert wheel.read(f"pdloss/presets/{config.name}") == config.read_bytes(), config.name
    assert f"pdloss-{pdloss.__version__}.dist-info/licenses/LICENSE" in names
    assert f"\nVersion: {pdloss.__version__}\n" in metadata and "\nLicense-Expression: Apache-2.0\n" in metadata
    assert built["wheel"].name == f"pdloss-{pdloss.__version__}-py3-none-any.whl"


def test_twine_check_passes(built):
    if importlib.util.find_spec("twine") is None:
        pytest.skip("needs the `twine` package (the dev extra: pip install -e '.[dev]')")
    done = _run([sys.executable, "-m", "twine", "check", "--strict", built["wheel"], built["sdist"]], cwd=built["work"])
    assert done.stdout.count("PASSED") == 2, done.stdout


def test_pdloss_comes_from_the_wheel(venv, tmp_path):
    checkout = str(ROOT / "src")
    code = f"import pdloss, sys; print(pdloss.__file__, pdloss.__version__, {checkout!r} in sys.path)"
    out = _run([venv / "python", "-c", code], cwd=tmp_path, env=_env(tmp_path)).stdout.split()
    assert Path(out[0]).is_relative_to(venv.parent) and out[1] == pdloss.__version__ and out[2] == "False"


def test_config_show_prints_the_packaged_preset(venv, tmp_path):
    env = _env(tmp_path)
    shown = _run([venv / "pdloss", "config", "show", "demo-denoise"], cwd=tmp_path, env=env).stdout
    assert shown == (ROOT / "configs" / "demo-denoise.yaml").read_text(encoding="utf-8")
    where = _run([venv / "pdloss", "config", "show", "demo-denoise", "--path"], cwd=tmp_path, env=env).stdout
    assert Path(where.strip()).is_relative_to(venv.parent)  # inside the wheel's install, not the checkout
    listing = _run([venv / "pdloss", "config", "list"], cwd=tmp_path, env=env).stdout
    assert {line.split()[0] for line in listing.splitlines()[:-2] if line} == {
        p.stem for p in (ROOT / "configs").glob("*.yaml")
    }


def test_readme_example_runs_in_the_venv(venv, tmp_path, tmp_path_factory):
    code = readme_python_example()
    try:
        home = vgg16_hed_home(tmp_path_factory)
    except pytest.skip.Exception:
        # The registry package is absent: the same example on random VGG weights still runs the wheel's code.
        home, code = tmp_path / "home", code.replace('weights="vgg16-hed"', 'weights="random"')
    script = tmp_path / "example.py"
    script.write_text(code + "\nprint(float(loss))\n")
    out = _run([venv / "python", script], cwd=tmp_path, env=_env(home)).stdout
    value = float(out.split()[-1])
    assert math.isfinite(value) and value > 0


def test_train_a_packaged_preset_in_the_venv(venv, tmp_path):
    missing = [m for m in ("skimage", "sklearn", "matplotlib") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"demo-denoise trains on the built-in photos: needs the data extra (missing {missing})")
    run = tmp_path / "run"
    argv = [venv / "pdloss", "train", "demo-denoise", f"output={run}", "train.iterations=2", "--no-progress"]
    out = _run(argv, cwd=tmp_path, env=_env(tmp_path / "home")).stdout
    assert f"run folder: {run}" in out
    assert (run / "checkpoints" / "last.pt").is_file() and (run / "config.yaml").is_file()
    log = (run / "log.csv").read_text().splitlines()
    assert len(log) >= 2  # a header and at least one logged step
