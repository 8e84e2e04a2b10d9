"""PyTorch eager latency: faithful ConvIR (full-scale output) vs the export rewrite.

    python benchmarks/rewrite.py [--variant s] [--sizes 256x256,720x1280] [--runs 5]

Runs are interleaved (faithful, rewrite, faithful, ...) in one process, because this
kind of machine is noisy; the table shows medians, their ratio and the max abs
difference between the two outputs. Sizes are padded to the legal size first.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _common import activate_dynamic_branches, cpu_name

from edgeir.cli import parse_size
from edgeir.models import create_model, exportable, legal_size


def _timed(fn, x) -> float:
    start = time.perf_counter()
    fn(x)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="s")
    parser.add_argument("--task", default="motion-deblur")
    parser.add_argument("--sizes", default="256x256,720x1280")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    model = activate_dynamic_branches(create_model(args.variant, args.task))
    rewrite = exportable(model)
    faithful = lambda x: model(x)[2]  # noqa: E731

    print(f"CPU: {cpu_name()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"ConvIR-{args.variant.upper()} ({args.task}), batch 1, median of {args.runs} interleaved runs\n")
    print("| size | faithful m(x)[2] ms | exportable(m)(x) ms | speed-up | max abs diff |")
    print("|---|---|---|---|---|")
    for text in args.sizes.split(","):
        h, w = parse_size(text)
        lh, lw = legal_size(h, w, args.task)
        x = torch.rand(1, 3, lh, lw)
        with torch.no_grad():
            diff = (faithful(x) - rewrite(x)).abs().max().item()  # also the warm-up
            times: dict[str, list[float]] = {"faithful": [], "rewrite": []}
            for _ in range(args.runs):
                times["faithful"].append(_timed(faithful, x))
                times["rewrite"].append(_timed(rewrite, x))
        a = statistics.median(times["faithful"]) * 1e3
        b = statistics.median(times["rewrite"]) * 1e3
        label = f"{h}x{w}" + (f" (padded {lh}x{lw})" if (lh, lw) != (h, w) else "")
        print(f"| {label} | {a:.0f} | {b:.0f} | {a / b:.2f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
