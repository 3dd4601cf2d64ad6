"""``pdloss models``: list the restoration networks with their task and parameter count."""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the restoration networks (task, parameter count)",
        description="List the registered restoration networks: the paper's SRN, SRN with ConvLSTM, "
        "EDSR baseline and full, PSS-NSC, and small-unet (not from the paper). Parameter counts are "
        "for each model's default task; tasks: denoise, jpeg, deblur, demosaic, sr4x.",
    )
    parser.add_argument("--json", action="store_true",
                        help='print {name: {"task": ..., "parameters": int, ...}} as JSON')
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import json

    from pdloss.models import list_models

    models = list_models()
    if args.json:
        print(json.dumps(models, indent=2))
        return 0
    width = max(len(n) for n in models)
    print(f"{'name':<{width}}  {'task':<8}  {'parameters':>12}  paper tasks / description")
    for name, info in models.items():
        tasks = ", ".join(info["tasks"])
        row = f"{name:<{width}}  {info['task']:<8}  {info['parameters']:>12,}"
        print(f"{row}  [{tasks}] {info['description']}")
    return 0
