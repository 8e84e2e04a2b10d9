"""Every CPU target before and after issue 23's changes, interleaved in one process.

    python benchmarks/cpu_speed.py [--sizes 256x256 736x1280] [--repeats 7] [--frames 3]
                                   [--folder DIR] [--no-profile]

ConvIR-S with the demo weights, exported once with the default dynamic range (into
``--folder``, reused when the files are there). What changed, and so what "before" runs:

- ``onnx``, ``onnx-int8``: the onnx targets now default to opset 20, whose Gelu op
  ONNX Runtime keeps as one node in the INT8 graph; "before" is the same export at opset 17.
- ``openvino``, ``openvino-int8``: the backend now compiles the dynamic IR once per input
  shape, reshaped to it; "before" runs the IR as read (dynamic shapes).

``torch`` is PyTorch eager on the export rewrite (the ``torch`` target of ``edgeir bench``).
Times are medians of ``--repeats`` interleaved runs (in a new random order each round)
on one frame of each size after a warm-up run (where the per-shape compile happens). PSNR is on ``--frames`` synthetic eval
frames of each size: "drop" is the INT8 loss against the sharp frames relative to the FP32
graph of the same runtime and the same "before"/"after". Then, unless ``--no-profile``, the
per-kernel times behind each change. Run it alone on the machine.

``--onednn-isa AVX2`` caps the instruction sets of oneDNN, which OpenVINO's CPU plugin and
PyTorch's convolutions use (``ONEDNN_MAX_CPU_ISA``, and ``ATEN_CPU_CAPABILITY`` for
PyTorch's other kernels), to see an AVX-512 machine's OpenVINO as an AVX2 one would run it.
ONNX Runtime's kernels (MLAS) have no such switch, so its targets are left out then.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _common import cpu_name, onnxruntime_op_times, openvino_op_times, print_op_table

from edgeir.bench.machine import cpu_features
from edgeir.data.synthetic import SyntheticBlur
from edgeir.export import export
from edgeir.export.parity import compare
from edgeir.models.size import legal_size
from edgeir.models.weights import choose_weights
from edgeir.runtimes import load
from edgeir.runtimes.frames import pad_to, to_chw
from edgeir.runtimes.torch_backend import TorchRuntime
from edgeir.shapes import parse_hw

TARGETS = ("onnx", "onnx-int8", "openvino", "openvino-int8")
FP32_OF = {"onnx": "onnx", "onnx-int8": "onnx", "openvino": "openvino", "openvino-int8": "openvino"}


def _exports(folder: Path, targets: tuple[str, ...]) -> dict[tuple[str, str], Path]:
    """(target, "before" | "after") -> artifact; OpenVINO's before and after are one file."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for target in targets:
        onnx = target.startswith("onnx")
        for when, opset in (("after", None), ("before", 17)) if onnx else (("after", None),):
            path = folder / f"{target}-{when}{'.onnx' if onnx else '.xml'}"
            if not path.is_file():
                export(target, output=path, **({"opset": opset} if opset else {}))
            made[target, when] = path
        if not onnx:
            made[target, "before"] = made[target, "after"]
    return made


def _runtimes(made: dict[tuple[str, str], Path]) -> dict[str, Any]:
    runtimes: dict[str, Any] = {"torch": TorchRuntime(choose_weights("s", "motion-deblur"), variant="s")}
    for (target, when), path in made.items():
        runtime = load(path)
        if target.startswith("openvino") and when == "before":
            runtime.specialize = False  # the IR as read, as edgeir ran it before
        runtimes[f"{target} {when}"] = runtime
    return runtimes


def _time(runtimes: dict[str, Any], x: np.ndarray, repeats: int) -> dict[str, float]:
    for runtime in runtimes.values():
        runtime(x)  # warm-up: first-run allocations, kernel selection, per-shape compile
    times: dict[str, list[float]] = {name: [] for name in runtimes}
    order, shuffle = list(runtimes), random.Random(0).shuffle
    for _ in range(repeats):
        shuffle(order)  # no runtime always runs after the same neighbour
        for name in order:
            start = time.perf_counter()
            runtimes[name](x)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


def _psnr(runtimes: dict[str, Any], frames: list[tuple[np.ndarray, np.ndarray]], h: int, w: int) -> dict[str, float]:
    """Mean PSNR against the sharp frames, per runtime."""
    return {name: statistics.mean(compare(sharp, np.clip(runtime(x)[:, :, :h, :w], 0, 1))["psnr_db"]
                                  for x, sharp in frames)
            for name, runtime in runtimes.items()}


def _table(ms: dict[str, float], psnr: dict[str, float], targets: tuple[str, ...]) -> None:
    print("| target | before ms | after ms | after vs before | after vs its FP32 (before -> after) "
          "| after vs torch | INT8 drop dB (before -> after) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| torch | {ms['torch']:.0f} | {ms['torch']:.0f} | - | - | 1.00x | - |")
    for target in targets:
        fp32 = FP32_OF[target]
        before, after = ms[f"{target} before"], ms[f"{target} after"]
        ratio = (f"{ms[f'{fp32} before'] / before:.2f}x -> {ms[f'{fp32} after'] / after:.2f}x"
                 if fp32 != target else "-")
        drop = "-"
        if fp32 != target:
            drops = [psnr[f"{fp32} {w}"] - psnr[f"{target} {w}"] for w in ("before", "after")]
            drop = f"{drops[0]:.3f} -> {drops[1]:.3f}"
        print(f"| {target} | {before:.0f} | {after:.0f} | {before / after:.2f}x | {ratio} "
              f"| {ms['torch'] / after:.2f}x | {drop} |")
    print()


def _profiles(made: dict[tuple[str, str], Path], x: np.ndarray, repeats: int) -> None:
    if ("onnx", "after") in made:
        print_op_table("ONNX Runtime kernels, opset 17 (before) and 20 (after)", {
            f"{target} {when}": onnxruntime_op_times(made[target, when], x, repeats)
            for target in ("onnx", "onnx-int8") for when in ("before", "after")})
    print_op_table("OpenVINO op types (kernel precision), dynamic IR as read (before) and compiled for the shape (after)", {
        f"{target} {when}": openvino_op_times(made[target, when], x, repeats, static=when == "after")
        for target in ("openvino", "openvino-int8") for when in ("before", "after")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["256x256", "736x1280"])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--frames", type=int, default=3, help="synthetic eval frames for the PSNR")
    parser.add_argument("--folder", type=Path, default=Path("cpu-speed-artifacts"),
                        help="where the exports are written, and reused from")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--onednn-isa", metavar="ISA",
                        help="cap oneDNN's instruction sets (e.g. AVX2): OpenVINO and PyTorch only")
    args = parser.parse_args()
    if args.onednn_isa and os.environ.get("ONEDNN_MAX_CPU_ISA") != args.onednn_isa:
        # Read when the libraries load: start again with them set.
        os.environ.update(ONEDNN_MAX_CPU_ISA=args.onednn_isa, ATEN_CPU_CAPABILITY=args.onednn_isa.lower())
        os.execv(sys.executable, [sys.executable, *sys.argv])

    targets = tuple(t for t in TARGETS if not (args.onednn_isa and t.startswith("onnx")))
    made = _exports(args.folder, targets)
    runtimes = _runtimes(made)
    isa = " ".join(f for f in cpu_features() or [] if f.startswith(("avx", "amx")))
    capped = f"; oneDNN capped at {args.onednn_isa}" if args.onednn_isa else ""
    print(f"ConvIR-S, demo weights, dynamic exports; {cpu_name()}; {isa}{capped}\n")
    for text in args.sizes:
        h, w = parse_hw(text)
        ph, pw = legal_size(h, w, "motion-deblur")
        frames = [(pad_to(to_chw(blurred)[0], ph, pw)[None], to_chw(sharp)[0][None])
                  for blurred, sharp in SyntheticBlur("eval", (h, w), length=args.frames)]
        x = frames[0][0]
        ms = _time(runtimes, x, args.repeats)
        psnr = _psnr({n: r for n, r in runtimes.items() if n != "torch"}, frames, h, w)
        print(f"### {h}x{w} (run at {ph}x{pw}), median of {args.repeats}, PSNR on {args.frames} frames\n")
        _table(ms, psnr, targets)
        if not args.no_profile:
            _profiles(made, x, 3)


if __name__ == "__main__":
    main()
