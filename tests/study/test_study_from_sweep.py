"""`pdloss study create STUDY --from-sweep SWEEP_DIR`: the methods, names and image pairs of a
study made from a fake sweep folder written here (results.json + RUN/eval*/{restored,reference,
input}/), and a clear error for every way the sweep can be incomplete."""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pytest
import torch
from PIL import Image

from pdloss.cli import main
from pdloss.errors import InputError
from pdloss.imageio import write_image
from pdloss.study.db import db_path
from pdloss.study.paths import crop_relpath
from pdloss.study.sweep import sweep_methods

RUNS = [("l1", "l1"), ("pdl-0.02", "pdl (0.02)"), ("perceptual-l1-0.01", "perceptual-l1 (0.01)")]
SIZE = (20, 28)  # H, W


def _write_eval(sweep, tag, stems, runs=RUNS, with_input=True):
    """One evaluation of every run: its own restored images, the same references and inputs."""
    eval_name = "eval" if tag is None else f"eval-{tag}"
    g = torch.Generator().manual_seed(len(stems) + (0 if tag is None else 7))
    reference = {s: torch.rand(3, *SIZE, generator=g) for s in stems}
    for k, (run, _) in enumerate(runs):
        for stem in stems:
            out = sweep / run / eval_name
            write_image(out / "reference" / f"{stem}.png", reference[stem])
            write_image(out / "restored" / f"{stem}.png", (reference[stem] * 0.5 + 0.1 * (k + 1)).clamp(0, 1))
            if with_input:
                write_image(out / "input" / f"{stem}.png", (reference[stem] * 0.2).clamp(0, 1))
    rows = [{"label": "reference", "niqe": 3.0}, {"label": "input", "psnr": 20.0}]
    rows += [{"label": label, "run": run, "psnr": 25.0 + k} for k, (run, label) in enumerate(runs)]
    name = "results.json" if tag is None else f"results-{tag}.json"
    (sweep / name).write_text(json.dumps({"rows": rows, "metrics": ["psnr"]}))


@pytest.fixture()
def sweep(tmp_path):
    folder = tmp_path / "sweep"
    _write_eval(folder, None, ["a", "b", "c"])
    _write_eval(folder, "test", ["x", "y"])
    return folder


def _array(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def _study_rows(study):
    with sqlite3.connect(db_path(study)) as conn:
        methods = conn.execute("SELECT id, name, source FROM methods ORDER BY id").fetchall()
        stems = [r[0] for r in conn.execute("SELECT stem FROM images ORDER BY id")]
        meta = dict(conn.execute("SELECT key, value FROM meta"))
    return methods, stems, meta


def _check_crops(study, sources, reference_dir, stems):
    """Every crop (whole images here) is the image of its method and stem, unchanged."""
    for image_id, stem in enumerate(stems, start=1):
        for method_id, folder in enumerate(sources, start=1):
            crop = _array(study / crop_relpath(method_id, image_id))
            np.testing.assert_array_equal(crop, _array(folder / f"{stem}.png"))
        np.testing.assert_array_equal(
            _array(study / crop_relpath(None, image_id)), _array(reference_dir / f"{stem}.png")
        )


def test_each_run_becomes_a_method_named_as_in_the_table(sweep, tmp_path, capsys):
    study = tmp_path / "study"
    assert main(["study", "create", str(study), "--from-sweep", str(sweep), "--crop", "0", "--questions", "4"]) == 0
    out = capsys.readouterr().out
    assert "3 methods (l1, pdl (0.02), perceptual-l1 (0.01)), 3 images, 3 method pairs" in out
    methods, stems, meta = _study_rows(study)
    assert [name for _, name, _ in methods] == [label for _, label in RUNS]
    restored = [sweep / run / "eval" / "restored" for run, _ in RUNS]
    assert [source for _, _, source in methods] == [str(p.resolve()) for p in restored]
    assert stems == ["a", "b", "c"]
    assert meta["has_reference"] == "1"
    assert meta["reference_source"] == str((sweep / "l1" / "eval" / "reference").resolve())
    assert meta["sweep_source"] == str(sweep.resolve()) and meta["sweep_images"] == ""
    assert json.loads(meta["sweep_runs"]) == {label: run for run, label in RUNS}
    assert json.loads(meta["sweep_seeds"]) == {label: None for _, label in RUNS}
    design = json.loads((study / "design.json").read_text())
    assert design["methods"] == [label for _, label in RUNS] and design["source"]["sweep_images"] == ""
    _check_crops(study, restored, sweep / "l1" / "eval" / "reference", stems)
    # The study works as any other: the report lists the three methods.
    from pdloss.study.report import load_wins

    names, _, _ = load_wins(study)
    assert names == [label for _, label in RUNS]


def test_other_images_with_input_and_chosen_runs(sweep, tmp_path):
    study = tmp_path / "study"
    argv = ["study", "create", str(study), "--from-sweep", str(sweep), "--crop", "0", "--questions", "2"]
    # The TAG given as a folder path: its name is the TAG.
    argv += ["--images", str(tmp_path / "photos" / "test"), "--with-input", "--run", "pdl (0.02)", "--run", "l1"]
    assert main(argv) == 0
    methods, stems, meta = _study_rows(study)
    assert [name for _, name, _ in methods] == ["pdl (0.02)", "l1", "input"]
    assert stems == ["x", "y"] and meta["sweep_images"] == "test"
    sources = [sweep / "pdl-0.02" / "eval-test" / "restored", sweep / "l1" / "eval-test" / "restored"]
    sources.append(sweep / "pdl-0.02" / "eval-test" / "input")
    assert [source for _, _, source in methods] == [str(p.resolve()) for p in sources]
    _check_crops(study, sources, sweep / "pdl-0.02" / "eval-test" / "reference", stems)
    # The TAG itself, and a run chosen by its folder.
    found = sweep_methods(sweep, images="test", runs=["perceptual-l1-0.01"])
    assert found.tag == "test" and found.results == sweep / "results-test.json"
    assert found.methods == [("perceptual-l1 (0.01)", sweep / "perceptual-l1-0.01" / "eval-test" / "restored")]
    assert found.stems == ["x", "y"]


def test_images_named_as_the_sweep_names_them(tmp_path):
    # `pdloss sweep --images offline:test` writes results-offline-test.json; a folder "my photos/"
    # gives my-photos (pdloss.evaluation.run.images_tag).
    sweep = tmp_path / "sweep"
    _write_eval(sweep, "offline-test", ["p"], with_input=False)
    _write_eval(sweep, "my-photos", ["q", "r"], with_input=False)
    assert sweep_methods(sweep, images="offline:test").stems == ["p"]
    assert sweep_methods(sweep, images="offline-test").tag == "offline-test"
    found = sweep_methods(sweep, images=str(tmp_path / "data" / "my photos") + "/")
    assert found.tag == "my-photos" and found.stems == ["q", "r"]
    assert found.reference == sweep / "l1" / "eval-my-photos" / "reference"
    with pytest.raises(InputError, match=r"no results-offline-valid\.json.*evaluations there: my-photos, offline-test"):
        sweep_methods(sweep, images="offline:valid")


def test_entries_with_several_seeds_and_bracketed_labels(tmp_path):
    # Folders as `pdloss sweep` names them: the base seed in RUN, the others in RUN-seedS; the
    # table has one row per entry with its seeds; equal labels get the entry in brackets.
    sweep = tmp_path / "sweep"
    folders = [("l1", "l1"), ("pdl-0.02", "pdl (0.02)"), ("pdl-0.02-seed1", "pdl (0.02)"), ("scratch-l1", "x")]
    _write_eval(sweep, None, ["a", "b"], runs=folders)
    (sweep / "pdl-0.02" / "config.yaml").write_text("name: s/pdl-0.02\nseed: 0\n")
    rows = [{"label": "reference"}, {"label": "l1 [l1]", "run": "l1", "seeds": [0]}]
    rows += [{"label": "pdl (0.02)", "run": "pdl-0.02", "seeds": [0, 1]}]
    rows += [{"label": "l1 [scratch-l1]", "run": "scratch-l1"}]
    (sweep / "results.json").write_text(json.dumps({"rows": rows}))
    found = sweep_methods(sweep)
    assert [name for name, _ in found.methods] == ["l1 [l1]", "pdl (0.02)", "l1 [scratch-l1]"]
    assert found.runs == {"l1 [l1]": "l1", "pdl (0.02)": "pdl-0.02", "l1 [scratch-l1]": "scratch-l1"}
    assert found.seeds == {"l1 [l1]": 0, "pdl (0.02)": 0, "l1 [scratch-l1]": None}
    found = sweep_methods(sweep, runs=["pdl (0.02)"], seed=1)
    assert found.methods == [("pdl (0.02)", sweep / "pdl-0.02-seed1" / "eval" / "restored")]
    assert found.seeds == {"pdl (0.02)": 1}
    with pytest.raises(InputError, match=r"'l1 \[l1\]' ran with seeds \[0\], not seed 1 \(--run-seed\)"):
        sweep_methods(sweep, seed=1)
    with pytest.raises(InputError, match=r"'pdl \(0.02\)' ran with seeds \[0, 1\], not seed 2"):
        sweep_methods(sweep, runs=["pdl (0.02)"], seed=2)
    # The plain folder holds another seed than the one asked for, and no RUN-seedS exists.
    (sweep / "pdl-0.02" / "config.yaml").write_text("seed: 5\n")
    shutil.rmtree(sweep / "pdl-0.02-seed1")
    with pytest.raises(InputError, match=r"no run of 'pdl \(0.02\)' with seed 1: .*trained with seed 5"):
        sweep_methods(sweep, runs=["pdl-0.02"], seed=1)
    study = tmp_path / "study"
    argv = ["study", "create", str(study), "--from-sweep", str(sweep), "--run-seed", "0", "--run", "l1"]
    assert main([*argv, "--run", "scratch-l1", "--crop", "0", "--questions", "1"]) == 0
    assert [name for _, name, _ in _study_rows(study)[0]] == ["l1 [l1]", "l1 [scratch-l1]"]


def _rewrite_rows(sweep, change):
    table = json.loads((sweep / "results.json").read_text())
    table["rows"] = change(table["rows"])
    (sweep / "results.json").write_text(json.dumps(table))


def test_errors_name_what_is_missing(sweep, tmp_path):
    with pytest.raises(InputError, match=r"results\.json not found"):
        sweep_methods(tmp_path / "sweep" / "l1")  # a run folder, not a sweep: no table
    with pytest.raises(InputError, match="does not exist"):
        sweep_methods(tmp_path / "nowhere")
    with pytest.raises(InputError, match=r"no evaluation on images 'valid'.*evaluations there: test"):
        sweep_methods(sweep, images="valid")
    with pytest.raises(InputError, match="--run 'pdl' is neither"):
        sweep_methods(sweep, runs=["pdl"])
    with pytest.raises(InputError, match="selected twice"):
        sweep_methods(sweep, runs=["l1", "l1"])

    shutil.rmtree(sweep / "pdl-0.02" / "eval-test" / "restored")
    with pytest.raises(InputError, match=r"eval-test/restored of 'pdl \(0.02\)' does not exist.*on 'test'"):
        sweep_methods(sweep, images="test")
    (sweep / "l1" / "eval" / "restored" / "b.png").unlink()
    with pytest.raises(InputError, match=r"images of l1 .* do not match .*: missing b"):
        sweep_methods(sweep)
    write_image(sweep / "l1" / "eval" / "restored" / "b.png", torch.zeros(3, *SIZE))
    write_image(sweep / "pdl-0.02" / "eval" / "restored" / "z.png", torch.zeros(3, *SIZE))
    with pytest.raises(InputError, match=r"images of pdl \(0.02\) .*: extra z"):
        sweep_methods(sweep)
    (sweep / "pdl-0.02" / "eval" / "restored" / "z.png").unlink()
    write_image(sweep / "perceptual-l1-0.01" / "eval" / "reference" / "c.png", torch.ones(3, *SIZE))
    with pytest.raises(InputError, match=r"reference images of perceptual-l1 \(0.01\) .* differ .*\(c\)"):
        sweep_methods(sweep)
    shutil.copy(sweep / "l1" / "eval" / "reference" / "c.png", sweep / "perceptual-l1-0.01" / "eval" / "reference")
    assert len(sweep_methods(sweep).methods) == 3  # repaired

    shutil.rmtree(sweep / "l1" / "eval" / "input")
    with pytest.raises(InputError, match="eval/input does not exist"):
        sweep_methods(sweep, with_input=True)
    shutil.rmtree(sweep / "perceptual-l1-0.01")
    with pytest.raises(InputError, match=r"run folder .*perceptual-l1-0.01 for 'perceptual-l1 \(0.01\)'"):
        sweep_methods(sweep)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda rows: [{k: v for k, v in r.items() if k != "run"} for r in rows], "no row of a trained run"),
        (lambda rows: [*rows, {"label": "l1", "run": "pdl-0.02"}], r"share the table name 'l1'"),
        (lambda rows: [*rows[:2], {"label": "pdl λ=0.02", "run": "pdl-0.02"}], "must be 1-80 characters"),
        (lambda rows: [*rows[:2], {"label": "up", "run": "../outside"}], "outside the sweep folder"),
        (lambda rows: {"not": "a list"}, "no list of rows"),
    ],
)
def test_bad_tables(sweep, change, message):
    _rewrite_rows(sweep, change)
    with pytest.raises(InputError, match=message):
        sweep_methods(sweep)


def test_command_line_checks(sweep, tmp_path, capsys):
    study = str(tmp_path / "study")
    assert main(["study", "create", study, "--images", "test", "--method", f"A={sweep}"]) == 2
    assert "--images need --from-sweep" in capsys.readouterr().err
    assert main(["study", "create", study, "--run-seed", "1", "--method", f"A={sweep}", "--method", f"B={sweep}"]) == 2
    assert "--run-seed need --from-sweep" in capsys.readouterr().err
    assert main(["study", "create", study, "--from-sweep", str(sweep), "--reference", str(sweep)]) == 2
    assert "exclude each other" in capsys.readouterr().err
    assert main(["study", "create", study]) == 2
    assert "at least two --method NAME=DIR, or --from-sweep" in capsys.readouterr().err
    (sweep / "results.json").unlink()
    assert main(["study", "create", study, "--from-sweep", str(sweep)]) == 2
    assert "results.json not found" in capsys.readouterr().err
    assert not (tmp_path / "study").exists()  # nothing made on an error
