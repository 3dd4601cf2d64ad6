"""The command line of the mutation audit (``python -m tools.mutation --help``)."""

from __future__ import annotations

import argparse
import datetime as _dt
import subprocess

from . import __doc__ as _DOC
from .data import ROOT, MutationData, load, problems, target_files
from .mutmut_runs import retest_undetected, run_module
from .named import run_named
from .report import COMMAND, read_results, score, with_equivalents, write_doc
from .tree import WORK


def _changed_modules(data: MutationData) -> list[str]:
    result = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    changed = {line[3:].strip() for line in result.stdout.splitlines()}
    return [n for n, t in data.targets.items() if any(f in changed for f in target_files(t))]


def _parser(data: MutationData) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.mutation", description=_DOC.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"modules to measure: {', '.join(data.targets)}")
    parser.add_argument("--all", action="store_true", help="measure every module")
    parser.add_argument("--changed", action="store_true", help="modules with files that differ from HEAD")
    parser.add_argument("--list", action="store_true", help="print the modules, their files and tests")
    parser.add_argument(
        "--check", action="store_true",
        help="check the data files against the tree (stale quoted lines, absent files and tests); runs nothing",
    )
    parser.add_argument("--named-only", action="store_true", help="only the hand-written mutants of the modules")
    parser.add_argument("--no-named", action="store_true", help="skip the hand-written mutants")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per module (default: none)")
    parser.add_argument("--jobs", type=int, default=1, help="mutants tested at once (default 1)")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/testing.md")
    parser.add_argument("--machine-note", default="", help="added to the machine line (e.g. what else ran)")
    parser.add_argument(
        "--collect", action="store_true",
        help="count what an interrupted run left in .mutation/<module>/ (unrun mutants count as not checked)",
    )
    parser.add_argument(
        "--retest-undetected", action="store_true",
        help="rerun only the mutants the last run did not detect (after adding tests; the module's files must be "
        "unchanged since that run, and its killed mutants stay killed since tests were only added)",
    )
    parser.add_argument("--render", action="store_true", help="only rewrite docs/testing.md from its stored results")
    return parser


def _measure(data: MutationData, names: list[str], args: argparse.Namespace) -> None:
    results = read_results(data)
    for name in names:
        print(f"mutmut: {name} ...", flush=True)
        target = data.targets[name]
        if args.retest_undetected:
            previous = results["modules"].get(name)
            result = retest_undetected(name, target, previous, args.timeout, args.jobs, args.machine_note)
        else:
            result = run_module(name, target, args.timeout, args.jobs, args.machine_note, args.collect)
        if result["status"] == "measured":
            c = with_equivalents(data, result)
            value = score(c)
            shown = "-" if value is None else f"{value:.1%}"
            print(f"  {c['total']} mutants, {c['killed']} killed, {c['timeout']} timed out, "
                  f"{c['survived']} survived, {c['no_tests']} without tests: score {shown} "
                  f"({result['wall_s'] / 60:.1f} min)", flush=True)
        else:
            print(f"  {result['status']}: {result.get('log_tail', '')}", flush=True)
        if not args.no_doc:
            # Read again before writing: another run of this tool may have measured another module.
            fresh = read_results(data)
            fresh["modules"][name] = result
            write_doc(data, fresh)


def _named(data: MutationData, names: list[str], args: argparse.Namespace) -> None:
    selected = [m for m in data.named if m.module in names]
    if not selected:
        return
    print(f"hand-written mutants: {len(selected)} ...", flush=True)
    rows = run_named(selected, timeout=args.timeout or 900, work=WORK / "named" / "-".join(names))
    results = read_results(data)
    kept = [r for r in results.get("named", []) if r["name"] not in {m.name for m in selected}]
    order = {m.name: i for i, m in enumerate(data.named)}
    results["named"] = sorted(kept + rows, key=lambda r: order.get(r["name"], len(order)))
    results["named_date"] = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    results["named_command"] = " ".join([COMMAND, *(["--named-only"] if args.named_only else []), *names])
    if not args.no_doc:
        write_doc(data, results)


def main(argv: list[str] | None = None) -> int:
    data = load()
    parser = _parser(data)
    args = parser.parse_args(argv)
    if args.list:
        for name, target in data.targets.items():
            print(f"{name}: {' '.join(target_files(target)) or '(absent)'}\n    tests: {' '.join(target.tests)}")
        return 0
    if args.check:
        found = problems(data)
        for line in found:
            print(line)
        print(f"{len(data.targets)} modules, {len(data.equivalents)} equivalent mutants, {len(data.named)} "
              f"hand-written mutants: {len(found) or 'no'} problem{'s' if len(found) != 1 else ''}")
        return 1 if found else 0
    if args.render:
        write_doc(data, read_results(data))
        return 0
    names = list(data.targets) if args.all else (_changed_modules(data) if args.changed else args.modules)
    unknown = [n for n in names if n not in data.targets]
    if unknown or not names:
        parser.error(f"name modules from: {', '.join(data.targets)}" + (f" (unknown: {unknown})" if unknown else ""))
    WORK.mkdir(exist_ok=True)
    if not args.named_only:
        _measure(data, names, args)
    if not args.no_named:
        _named(data, names, args)
    return 0
