"""The README's first screen holds: its Python example runs as written, the extras and the
citation it names exist, and the version is written once."""

from __future__ import annotations

import re

import pytest
import torch
import yaml

import pdloss
from package.readme_support import README, ROOT, readme_python_example, vgg16_hed_home


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11 (tomllib)")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_readme_example_runs_as_written(tmp_path_factory, monkeypatch, tmp_path):
    home = vgg16_hed_home(tmp_path_factory)
    monkeypatch.setenv("PDLOSS_HOME", str(home))
    monkeypatch.chdir(tmp_path)  # as a user would: nothing of the checkout's folders in reach
    namespace: dict = {}
    exec(compile(readme_python_example(), "README.md", "exec"), namespace)
    loss, output, target, loss_fn = (namespace[k] for k in ("loss", "output", "target", "loss_fn"))
    assert loss.ndim == 0 and torch.isfinite(loss) and loss.item() > 0
    assert output.grad is not None and torch.isfinite(output.grad).all() and output.grad.abs().sum() > 0
    # The same loss object on identical images: every term is a distance, so exactly 0.
    assert loss_fn(target, target.clone()).item() == pytest.approx(0.0, abs=1e-6)


def test_readme_example_is_short_and_names_its_weights():
    code = readme_python_example()
    lines = [line for line in code.splitlines() if line.strip() and not line.startswith(("import ", "from "))]
    assert len(lines) <= 5, lines
    assert 'weights="vgg16-hed"' in code  # runs offline once `pdloss weights install vgg16-hed` did


def _first_screen() -> str:
    text = README.read_text(encoding="utf-8")
    return text[: text.index("\n## The whole system")]


def test_install_block_names_only_extras_that_exist():
    extras = _pyproject()["project"]["optional-dependencies"]
    screen = _first_screen()
    named = {m for group in re.findall(r'pip install "\.\[([a-z,]+)\]"', screen) for m in group.split(",")}
    named |= set(re.findall(r"`([a-z]+)` (?:the|scipy)", screen))  # "The extras add: `data` the built-in ..."
    assert {"data", "train"} <= named
    assert named <= set(extras), named - set(extras)
    for extra in ("data", "train", "metrics", "study", "dev"):
        assert f"`{extra}`" in screen, extra
    assert "pdloss weights install vgg16-hed" in screen  # the weights the example names


def test_whole_system_commands_follow_the_first_screen():
    text = README.read_text(encoding="utf-8")
    head = text.index("\n## The whole system")
    block = re.search(r"```bash\n(.*?)```", text[head:], flags=re.S).group(1).splitlines()
    assert [line.split("#")[0].strip() for line in block] == ["make demo", "make test"]
    for section in ("## Install", "## Use it", "```bibtex"):
        assert text.index(section) < head, section


def test_bibtex_and_citation_cff_cite_the_same_paper():
    screen = _first_screen()
    bib = dict(re.findall(r"^\s*(\w+)\s*=\s*\{(.*)\},?$", screen.split("```bibtex")[1].split("```")[0], flags=re.M))
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())["preferred-citation"]
    assert bib["title"] == cff["title"] == "Projected Distribution Loss for Image Enhancement"
    authors = [f"{a['family-names']}, {a['given-names']}" for a in cff["authors"]]
    assert bib["author"] == " and ".join(authors) == "Delbracio, Mauricio and Talebi, Hossein and Milanfar, Peyman"
    assert int(bib["year"]) == cff["year"] == 2021
    assert bib["booktitle"] == cff["collection-title"]
    assert f"arXiv:{bib['eprint']}" == cff["identifiers"][0]["value"]


def test_one_version_string():
    project = _pyproject()
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "pdloss.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", pdloss.__version__)
    assert yaml.safe_load((ROOT / "CITATION.cff").read_text())["version"] == pdloss.__version__
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert "## Unreleased" in changelog and f"## {pdloss.__version__} - " in changelog


def test_license_is_the_apache_2_text_the_metadata_names():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    project = _pyproject()["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
