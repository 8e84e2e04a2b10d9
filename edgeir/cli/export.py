"""``edgeir export``: one target, verified, with its manifest."""

from __future__ import annotations

import argparse
import json
from typing import Any

from edgeir.cli.common import (
    add_model_options,
    add_out_option,
    add_renamed,
    parse_size,
    setup_logging,
)
from edgeir.export.targets import OPTIONS, TARGETS
from edgeir.shapes import DEFAULT_RANGE


def run(args: argparse.Namespace) -> int:
    from edgeir.export import export
    from edgeir.progress import heartbeat

    setup_logging()
    with heartbeat():
        result = _export(export, args)
    if args.json:
        print(json.dumps(result.summary(), indent=2))
    else:
        print("\n".join(result.lines))
    return 0


def _export(export: Any, args: argparse.Namespace) -> Any:
    return export(
        args.target,
        variant=args.variant,
        task=args.task,
        weights=args.weights,
        output=args.output,
        shape=args.shape,
        dynamic=args.dynamic,
        batch=args.batch,
        overwrite=args.overwrite,
        # Passed only when given (argparse leaves the rest None), so that a target that does
        # not take an option refuses it instead of ignoring it.
        **{name: getattr(args, name) for name in OPTIONS},
    )


def _add_target_options(parser: argparse.ArgumentParser) -> None:
    """Every target-specific option, as ``edgeir.export.targets.OPTIONS`` defines it, under
    its section, with the targets that take it."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    for option in OPTIONS.values():
        group = groups.setdefault(option.group, parser.add_argument_group(option.group))
        takers = ", ".join(t.name for t in TARGETS.values() if option.name in t.options)
        text = f"{option.help} [{takers}]"
        if option.switch:
            group.add_argument(option.flag, dest=option.name, action="store_true", default=None, help=text)
        else:
            group.add_argument(option.flag, dest=option.name, type=option.type, choices=option.choices, default=None,
                               metavar=option.metavar, nargs="+" if option.many else None, help=text)
        if option.renamed_from:
            add_renamed(group, option.renamed_from, option.flag, option.name, type=option.type,
                        nargs="+" if option.many else None)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "export",
        help="export a ConvIR to a deployment target, verified against PyTorch",
        description="Export the export-friendly ConvIR to a target, check that the artifact "
        "computes what PyTorch computes, and write it atomically with a manifest beside it. "
        "Targets: " + "; ".join(f"{t.name}: {t.summary}" for t in TARGETS.values()),
    )
    parser.add_argument("--target", required=True, choices=list(TARGETS), help="what to produce")
    add_model_options(parser)
    parser.add_argument("--weights", metavar="PATH|demo|random", help="checkpoint to export; "
                        "'demo' for the packaged demo weights, 'random' for random initialisation "
                        "(default: the demo weights for S motion-deblur, random initialisation "
                        "elsewhere; the output and the manifest say which)")
    shapes = parser.add_mutually_exclusive_group()
    shapes.add_argument("--size", dest="shape", type=parse_size, metavar="HxW",
                        help="static input size (must be legal: see edgeir info)")
    add_renamed(shapes, "--shape", "--size", "shape", type=parse_size)
    shapes.add_argument(
        "--dynamic", nargs="?", const=DEFAULT_RANGE, metavar="MIN:OPT:MAX",
        help="dynamic batch/height/width (the default, except for Core ML), e.g. "
        "256x256:736x1280:1088x1920 or MIN:MAX; without a value: the task's smallest legal "
        "square to 1088x1920, opt 736x1280. Core ML: range dims, OPT the default shape",
    )
    parser.add_argument("--batch", type=int, default=1,
                        help="batch of a static graph; the batch a dynamic one is planned for "
                        "(default: 1)")
    _add_target_options(parser)
    add_out_option(parser, "artifact path (default: convir-VARIANT_TASK_TARGET.SUFFIX here)", metavar="PATH")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing artifact, its manifest and companion files "
                        "(refused without it, before any work)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.set_defaults(run=run)
