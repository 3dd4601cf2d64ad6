"""Packaged presets (`pdloss config list | show`, `pdloss train NAME`) and the command line's fast
failure on a missing file (no torch import before the arguments are checked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pdloss.cli import build_parser, main
from pdloss.config.schema import load_config
from pdloss.train.presets import PresetError, find_preset, list_presets, preset_dir, resolve_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"  # the repository's one copy


def test_presets_are_the_repository_configs_in_a_checkout():
    # The editable install reads configs/ in place: no second copy to drift.
    assert preset_dir() == CONFIGS
    assert [p.name for p in list_presets()] == sorted(p.stem for p in CONFIGS.glob("*.yaml"))
    demo = find_preset("demo-denoise")
    assert demo is not None and demo.path == CONFIGS / "demo-denoise.yaml"
    assert find_preset("demo-denoise.yaml") == demo
    assert find_preset("no-such-preset") is None


def test_summary_is_the_first_comment_line(tmp_path, monkeypatch):
    import pdloss.train.presets as presets

    (tmp_path / "b.yaml").write_text("\n#   second file,  first line\n# more\ntask: denoise\n")
    (tmp_path / "a.yaml").write_text("task: denoise  # not a heading\n")
    (tmp_path / "notes.txt").write_text("# not a preset\n")
    monkeypatch.setattr(presets, "preset_dir", lambda: tmp_path)
    assert [(p.name, p.summary) for p in presets.list_presets()] == [("a", ""), ("b", "second file,  first line")]


def test_every_preset_loads_and_validates():
    for preset in list_presets():
        config = load_config(resolve_config(preset.name))
        assert config.name == preset.name, preset.name


def test_config_show_prints_the_file_verbatim(capsys):
    assert main(["config", "show", "demo-denoise"]) == 0
    assert capsys.readouterr().out == (CONFIGS / "demo-denoise.yaml").read_text(encoding="utf-8")
    assert main(["config", "show", "demo-denoise", "--path"]) == 0
    assert capsys.readouterr().out.strip() == str(CONFIGS / "demo-denoise.yaml")


def test_config_show_unknown_name_is_one_line(capsys):
    assert main(["config", "show", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no preset named 'nope'" in err and "demo-denoise" in err


def test_config_list_names_each_preset_with_its_summary(capsys):
    assert main(["config", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for path in CONFIGS.glob("*.yaml"):
        first = next(line for line in path.read_text().splitlines() if line.strip())
        summary = first.lstrip("#").strip() if first.startswith("#") else ""
        assert any(line.split()[0] == path.stem and line.endswith(summary) for line in lines if line), path.stem


def test_resolve_config_prefers_an_existing_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    own = tmp_path / "demo-denoise.yaml"
    own.write_text("task: denoise\n")
    assert resolve_config("demo-denoise.yaml") == Path("demo-denoise.yaml")  # the file, not the preset
    assert resolve_config("demo-denoise") == CONFIGS / "demo-denoise.yaml"  # no such file: the preset
    assert resolve_config(str(own)) == own


def test_resolve_config_errors_name_what_to_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # A path with folders never silently becomes a preset; the error names the preset.
    with pytest.raises(PresetError, match=r"not found: configs/demo-denoise\.yaml .*preset of that name: demo-denoise"):
        resolve_config("configs/demo-denoise.yaml")
    with pytest.raises(PresetError, match=r"not a packaged preset either \(presets: demo-denoise, "):
        resolve_config("nosuch")
    (tmp_path / "folder").mkdir()
    with pytest.raises(PresetError, match="is a folder"):
        resolve_config("folder")


def test_train_help_names_the_presets():
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]
    text = train.format_help()
    assert "pdloss config list" in text and "see configs/" not in text


def test_data_help_is_plain_text_and_names_the_extra():
    parser = build_parser()
    text = parser._subparsers._group_actions[0].choices["data"].format_help()
    assert "``" not in text and "pdloss[data]" in text


def _cli_in_fresh_process(argv: list[str]) -> tuple[int, bool, str]:
    """(exit code, whether torch got imported, stderr) of `pdloss ARGV` in a new interpreter."""
    code = (
        "import sys, contextlib, io\n"
        "from pdloss.cli import main\n"
        "err = io.StringIO()\n"
        "with contextlib.redirect_stderr(err):\n"
        f"    rc = main({argv!r})\n"
        "print(rc, 'torch' in sys.modules)\n"
        "print(err.getvalue(), end='')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    first, _, rest = out.partition("\n")
    rc, imported = first.split()
    return int(rc), imported == "True", rest


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "/nonexistent/run.yaml"], "config file not found: /nonexistent/run.yaml"),
        (["sweep", "/nonexistent/run.yaml"], "config file not found: /nonexistent/run.yaml"),
        (["evaluate", "/nonexistent/run"], "no checkpoint at /nonexistent/run"),
        (["evaluate", "--pred", "/nonexistent/a", "--ref", "/nonexistent/b"], "not a folder: /nonexistent/a"),
        (["restore", "/nonexistent/run", "/nonexistent/in", "/tmp/out"], "no checkpoint at /nonexistent/run"),
        (["compare", "/nonexistent/a.png", "/nonexistent/b.png"], "image file not found: /nonexistent/a.png"),
    ],
)
def test_a_missing_file_fails_before_torch_is_imported(argv, message):
    rc, imported_torch, err = _cli_in_fresh_process(argv)
    assert rc == 2 and message in err and err.count("\n") == 1
    assert not imported_torch


def test_missing_builtin_photos_name_the_data_extra(monkeypatch):
    import pdloss.data.builtin as builtin
    from pdloss.data.sources import resolve_images
    from pdloss.errors import PdlossError

    monkeypatch.setattr(builtin, "package_dir", lambda package: None)  # as without scikit-image & co.
    # The demo-denoise preset's training set.
    with pytest.raises(PdlossError, match=r"pip install 'pdloss\[data\]'"):
        resolve_images("builtin:train+valid")
