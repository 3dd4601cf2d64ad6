"""``pdloss config list`` and ``pdloss config show NAME``: the packaged presets."""

from __future__ import annotations

import argparse
import shutil
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "config",
        help="list the packaged preset configs, or print one to start your own",
        description="The preset configs shipped with pdloss. `pdloss train NAME` and `pdloss sweep NAME` "
        "take a preset's name wherever they take a config file; `pdloss config show NAME > mine.yaml` "
        "starts your own.",
    )
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION")
    listing = sub.add_parser("list", help="each preset's name and the first line of its description")
    listing.set_defaults(func=run_list)
    show = sub.add_parser("show", help="print a preset's YAML (redirect it into a file to edit it)")
    show.add_argument("name", help="a preset name from `pdloss config list`")
    show.add_argument("--path", action="store_true", help="print where the preset's file is instead")
    show.set_defaults(func=run_show)
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])


def run_list(args: argparse.Namespace) -> int:
    from pdloss.train.presets import list_presets

    presets = list_presets()
    if not presets:
        print("no presets found: this installation of pdloss lacks its presets folder", file=sys.stderr)
        return 1
    width = max(len(p.name) for p in presets)
    # Cut long lines to a terminal's width only; a pipe gets them whole.
    columns = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    for preset in presets:
        line = f"{preset.name:<{width}}  {preset.summary}"
        print(line if columns is None or len(line) <= columns else line[: columns - 3] + "...")
    print("\npdloss config show NAME > mine.yaml    # to start your own; pdloss train NAME / pdloss sweep NAME")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from pdloss.train.presets import PresetError, find_preset, list_presets

    preset = find_preset(args.name)
    if preset is None:
        names = ", ".join(p.name for p in list_presets())
        raise PresetError(f"no preset named {args.name!r} (presets: {names})")
    if args.path:
        print(preset.path)
    else:
        sys.stdout.write(preset.path.read_text(encoding="utf-8"))
    return 0
