"""``study create --from-sweep``: the methods of a study from a folder written by ``pdloss sweep``.

A sweep folder holds its table ``results.json`` (``{"rows": [...]}``); each trained entry's row
has ``"label"`` (the loss as the table names it, e.g. ``pdl (0.02)``), ``"run"`` (the entry's run
folder, relative to the sweep folder) and, when the entry ran with several seeds, ``"seeds"``:
the run of seed S is then ``RUN-seedS``, or ``RUN`` itself for the config's base seed. Rows
without ``"run"`` (``reference``, ``input``) are not methods. A run's evaluation lies in
``RUN/eval/{restored,reference,input}/STEM.png``; an evaluation on another image source
(``pdloss sweep CONFIG --images DIR``) has its table in ``results-TAG.json`` and its images in
``RUN/eval-TAG/`` (TAG from :func:`pdloss.evaluation.run.images_tag`). Each selected entry
becomes a method named by its label, with the restored images of one seed; the references come
from the same evaluation. Nothing is copied: ``create_study`` crops straight from these folders.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from pdloss.errors import InputError, PdlossError
from pdloss.evaluation.run import images_tag
from pdloss.runs.layout import eval_folder_name, results_name
from pdloss.study.design import _images_by_stem, check_method_name

INPUT_METHOD = "input"


@dataclass(frozen=True)
class SweepMethods:
    """What a sweep contributes to a study."""

    sweep_dir: Path
    tag: str | None  # None: the sweep's own evaluation (results.json, RUN/eval)
    results: Path  # the table read
    methods: list[tuple[str, Path]]  # (name, folder of images), in study order
    reference: Path  # the reference folder of the first run's evaluation
    runs: dict[str, str] = field(default_factory=dict)  # method name -> run folder (the input: the first run's)
    seeds: dict[str, int | None] = field(default_factory=dict)  # method name -> seed shown (None: not recorded)
    stems: list[str] = field(default_factory=list)

    def meta(self) -> dict[str, str]:
        """The study's record of where its methods came from."""
        return {
            "sweep_source": str(self.sweep_dir.resolve()),
            "sweep_images": self.tag or "",
            "sweep_runs": json.dumps(self.runs),
            "sweep_seeds": json.dumps(self.seeds),
        }


def available_tags(sweep_dir: Path) -> list[str]:
    """The TAGs of the sweep's ``results-TAG.json`` tables (evaluations on other folders)."""
    return sorted(p.name[len("results-") : -len(".json")] for p in sweep_dir.glob("results-?*.json"))


def _source_tag(text: str) -> str | None:
    """The TAG ``pdloss sweep --images SOURCE`` gives SOURCE (``offline:test`` -> ``offline-test``,
    ``/data/my photos/`` -> ``my-photos``), or None when it cannot name one."""
    try:
        return images_tag(text)
    except PdlossError:
        return None


def resolve_tag(sweep_dir: Path, images: str | Path | None) -> str | None:
    """The evaluation named by ``--images``: ``None`` (the sweep's own), a TAG with a
    ``results-TAG.json`` table, or the image source given to ``pdloss sweep --images`` (a folder
    path, ``offline:test``, ...) whose TAG has one."""
    if images is None:
        return None
    text = str(images)
    if text and (sweep_dir / f"results-{text}.json").is_file():
        return text
    tag = _source_tag(text)
    if tag and (sweep_dir / f"results-{tag}.json").is_file():
        return tag
    tags = available_tags(sweep_dir)
    raise InputError(
        f"{sweep_dir} has no evaluation on images {text!r} (no results-{tag or text}.json); "
        + (f"evaluations there: {', '.join(tags)}" if tags else "it was evaluated on its own validation set only")
        + ". Run `pdloss sweep CONFIG --images DIR` first"
    )


def _load_rows(results: Path) -> list[dict]:
    if not results.is_file():
        raise InputError(
            f"{results} not found: is {results.parent} a folder written by `pdloss sweep` (after its evaluation)?"
        )
    try:
        table = json.loads(results.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the sweep's table {results}: {exc}") from exc
    rows = table.get("rows") if isinstance(table, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputError(f"{results} has no list of rows (expected {{\"rows\": [...]}})")
    return rows


def _stem_mismatch(name: str, folder: Path, stems: set[str], expected: set[str], first: str) -> InputError:
    missing, extra = sorted(expected - stems), sorted(stems - expected)
    detail = []
    if missing:
        detail.append(f"missing {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
    if extra:
        detail.append(f"extra {', '.join(extra[:5])}" + (" ..." if len(extra) > 5 else ""))
    return InputError(
        f"the images of {name} ({folder}) do not match {first}: {'; '.join(detail)}. "
        "Every run of a study must be evaluated on the same images"
    )


def _seed_folder(sweep_dir: Path, row: dict, label: str, seed: int | None) -> tuple[str, int | None]:
    """The run folder (relative to the sweep) of one row's seed: ``seed``, else the row's first."""
    group = str(row["run"])
    seeds = [int(s) for s in row.get("seeds") or []]
    if seed is not None and seeds and seed not in seeds:
        raise InputError(f"{label!r} ran with seeds {seeds}, not seed {seed} (--run-seed)")
    if seed is None:
        if len(seeds) <= 1:
            return group, (seeds[0] if seeds else None)
        seed = seeds[0]
    suffixed = f"{group}-seed{seed}"
    if (sweep_dir / suffixed).is_dir():
        return suffixed, seed
    # The config's base seed runs in the plain folder; its config.yaml says which seed that is.
    config = sweep_dir / group / "config.yaml"
    if config.is_file():
        import yaml

        try:
            trained = (yaml.safe_load(config.read_text()) or {}).get("seed")
        except (OSError, yaml.YAMLError) as exc:
            raise InputError(f"cannot read {config}: {exc}") from exc
        if trained is not None and int(trained) != seed:
            raise InputError(
                f"no run of {label!r} with seed {seed}: neither {sweep_dir / suffixed} nor "
                f"{sweep_dir / group} (trained with seed {trained})"
            )
    return group, seed


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sweep_methods(
    sweep_dir: str | Path,
    images: str | Path | None = None,
    with_input: bool = False,
    runs: list[str] | None = None,
    seed: int | None = None,
) -> SweepMethods:
    """The methods and reference folder of a study made from a sweep.

    Args:
        sweep_dir: the folder ``pdloss sweep`` wrote (holds ``results.json``).
        images: ``None`` for the sweep's own evaluation, else the TAG of ``results-TAG.json`` /
            ``RUN/eval-TAG``, or the image source given to ``pdloss sweep --images`` (its TAG).
        with_input: also add the degraded input (``eval*/input`` of the first run) as a method
            named ``input``.
        runs: only these runs, in this order, each named by its label or its run folder;
            default every trained row of the table, in table order.
        seed: for entries trained with several seeds, whose images to show; default each
            row's first seed. A row that did not run this seed is an error.

    Raises:
        InputError: no table, a table without trained rows, a run or evaluation folder missing,
            a label that is no valid method name or is shared by two selected runs, images that
            differ between runs, references that differ between runs, no input images.
    """
    sweep_dir = Path(sweep_dir).expanduser()
    if not sweep_dir.is_dir():
        raise InputError(f"sweep folder {sweep_dir} does not exist")
    tag = resolve_tag(sweep_dir, images)
    results = sweep_dir / f"{results_name(tag)}.json"
    eval_name = eval_folder_name(tag)
    rows = _load_rows(results)
    trained = [r for r in rows if r.get("run")]
    if not trained:
        labels = [str(r.get("label")) for r in rows]
        raise InputError(
            f"{results} has no row of a trained run (rows with \"run\"; it has {labels}). A table written "
            "before pdloss sweep recorded run folders: run the same `pdloss sweep` again (it reuses finished "
            "runs and rewrites the table)"
        )
    if runs:
        chosen = []
        for wanted in runs:
            found = [r for r in trained if wanted in (str(r.get("label")), str(r["run"]))]
            if not found:
                known = ", ".join(f"{r.get('label')!r} ({r['run']})" for r in trained)
                raise InputError(f"--run {wanted!r} is neither a label nor a run folder of {results}: {known}")
            if len(found) > 1:
                raise InputError(
                    f"--run {wanted!r} names {len(found)} runs ({', '.join(str(r['run']) for r in found)}); "
                    "give the run folder"
                )
            chosen.append(found[0])
        trained = chosen
    if len({id(r) for r in trained}) != len(trained):
        raise InputError("a run is selected twice")

    root = sweep_dir.resolve()
    methods: list[tuple[str, Path]] = []
    by_run: dict[str, str] = {}
    by_seed: dict[str, int | None] = {}
    seen: dict[str, str] = {}
    evals: list[Path] = []
    for row in trained:
        group = str(row["run"])
        label = check_method_name(str(row.get("label", "")).strip(), f"the table's name of run {group!r}")
        if not (sweep_dir / group).resolve().is_relative_to(root):
            raise InputError(f"{results}: run folder {group!r} of {label!r} lies outside the sweep folder")
        run, run_seed = _seed_folder(sweep_dir, row, label, seed)
        if label in seen:
            raise InputError(
                f"runs {seen[label]!r} and {run!r} share the table name {label!r}; a study needs distinct "
                "names: choose one of them with --run RUN_FOLDER"
            )
        if label == INPUT_METHOD and with_input:
            raise InputError(f"run {run!r} is labelled {INPUT_METHOD!r}, the name --with-input gives the input")
        run_dir = sweep_dir / run
        if not run_dir.is_dir():
            raise InputError(f"{results} names the run folder {run_dir} for {label!r}, which does not exist")
        evaluation = run_dir / eval_name
        for sub in ("restored", "reference"):
            if not (evaluation / sub).is_dir():
                raise InputError(
                    f"{evaluation / sub} of {label!r} does not exist: the run has no evaluation"
                    + (f" on {tag!r}" if tag else "")
                    + "; run `pdloss sweep` (or `pdloss evaluate`) again"
                )
        seen[label] = run
        by_run[label] = run
        by_seed[label] = run_seed
        methods.append((label, evaluation / "restored"))
        evals.append(evaluation)

    # Every run must show the same images, against the same references.
    first_label = methods[0][0]
    first_refs = _images_by_stem(evals[0] / "reference")
    expected = set(first_refs)
    if not expected:
        raise InputError(f"no images in {evals[0] / 'reference'}")
    ref_digests = {stem: _digest(path) for stem, path in first_refs.items()}
    for (label, restored), evaluation in zip(methods, evals, strict=True):
        for folder, what in ((restored, label), (evaluation / "reference", f"the references of {label}")):
            listing = _images_by_stem(folder)
            if set(listing) != expected:
                raise _stem_mismatch(what, folder, set(listing), expected, f"the references of {first_label}")
            if folder.name == "reference" and evaluation != evals[0]:
                changed = sorted(s for s, p in listing.items() if _digest(p) != ref_digests[s])
                if changed:
                    raise InputError(
                        f"the reference images of {label} ({folder}) differ from those of {first_label} "
                        f"({', '.join(changed[:5])}): the runs were evaluated on different images"
                    )
    if with_input:
        inputs = evals[0] / "input"
        if not inputs.is_dir():
            raise InputError(
                f"{inputs} does not exist: this task writes no input of the reference's size "
                "(super-resolution does not), so --with-input cannot show it"
            )
        listing = _images_by_stem(inputs)
        if set(listing) != expected:
            raise _stem_mismatch("the input", inputs, set(listing), expected, f"the references of {first_label}")
        methods.append((INPUT_METHOD, inputs))
        by_run[INPUT_METHOD] = by_run[first_label]
        by_seed[INPUT_METHOD] = by_seed[first_label]
    return SweepMethods(
        sweep_dir=sweep_dir,
        tag=tag,
        results=results,
        methods=methods,
        reference=evals[0] / "reference",
        runs=by_run,
        seeds=by_seed,
        stems=sorted(expected),
    )
