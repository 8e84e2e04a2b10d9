"""Every CPU target before and after issue 23's changes, interleaved in one process.

    python benchmarks/cpu_speed.py [--sizes 256x256 736x1280] [--repeats 5] [--frames 3]
                                   [--folder DIR] [--no-profile]

ConvIR-S with the demo weights, exported once with the default dynamic range (into
``--folder``, reused when the files are there). What changed, and so what "before" runs:

- ``onnx``, ``onnx-int8``: the onnx targets now default to opset 20, whose Gelu op
  ONNX Runtime keeps as one node in the INT8 graph; "before" is the same export at opset 17.
- ``openvino``, ``openvino-int8``: the backend now compiles the dynamic IR once per input
  shape, reshaped to it; "before" runs the IR as read (dynamic shapes).

``torch`` is PyTorch eager on the export rewrite (the ``torch`` target of ``edgeir bench``).
Times are medians of ``--repeats`` interleaved runs on one frame of each size after a
warm-up run (where the per-shape compile happens). PSNR is on ``--frames`` synthetic eval
frames of each size: "drop" is the INT8 loss against the sharp frames relative to the FP32
graph of the same runtime and the same "before"/"after". Then, unless ``--no-profile``, the
per-kernel times behind each change. Run it alone on the machine.
"""

from __future__ import annotations

import argparse
import statistics
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


def _exports(folder: Path) -> dict[tuple[str, str], Path]:
    """(target, "before" | "after") -> artifact; OpenVINO's before and after are one file."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for target in TARGETS:
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
    for _ in range(repeats):
        for name, runtime in runtimes.items():
            start = time.perf_counter()
            runtime(x)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


def _psnr(runtimes: dict[str, Any], frames: list[tuple[np.ndarray, np.ndarray]], h: int, w: int) -> dict[str, float]:
    """Mean PSNR against the sharp frames, per runtime."""
    return {name: statistics.mean(compare(sharp, np.clip(runtime(x)[:, :, :h, :w], 0, 1))["psnr_db"]
                                  for x, sharp in frames)
            for name, runtime in runtimes.items()}


def _table(ms: dict[str, float], psnr: dict[str, float]) -> None:
    print("| target | before ms | after ms | after vs before | after vs its FP32 (before -> after) "
          "| after vs torch | INT8 drop dB (before -> after) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| torch | {ms['torch']:.0f} | {ms['torch']:.0f} | - | - | 1.00x | - |")
    for target in TARGETS:
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
    print_op_table("ONNX Runtime kernels, opset 17 (before) and 20 (after)", {
        f"{target} {when}": onnxruntime_op_times(made[target, when], x, repeats)
        for target in ("onnx", "onnx-int8") for when in ("before", "after")})
    print_op_table("OpenVINO op types (kernel precision), dynamic IR as read (before) and compiled for the shape (after)", {
        f"{target} {when}": openvino_op_times(made[target, when], x, repeats, static=when == "after")
        for target in ("openvino", "openvino-int8") for when in ("before", "after")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["256x256", "736x1280"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames", type=int, default=3, help="synthetic eval frames for the PSNR")
    parser.add_argument("--folder", type=Path, default=Path("cpu-speed-artifacts"),
                        help="where the exports are written, and reused from")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args()

    made = _exports(args.folder)
    runtimes = _runtimes(made)
    isa = " ".join(f for f in cpu_features() or [] if f.startswith(("avx", "amx")))
    print(f"ConvIR-S, demo weights, dynamic exports; {cpu_name()}; {isa}\n")
    for text in args.sizes:
        h, w = parse_hw(text)
        ph, pw = legal_size(h, w, "motion-deblur")
        frames = [(pad_to(to_chw(blurred)[0], ph, pw)[None], to_chw(sharp)[0][None])
                  for blurred, sharp in SyntheticBlur("eval", (h, w), length=args.frames)]
        x = frames[0][0]
        ms = _time(runtimes, x, args.repeats)
        psnr = _psnr({n: r for n, r in runtimes.items() if n != "torch"}, frames, h, w)
        print(f"### {h}x{w} (run at {ph}x{pw}), median of {args.repeats}, PSNR on {args.frames} frames\n")
        _table(ms, psnr)
        if not args.no_profile:
            _profiles(made, x, 3)


if __name__ == "__main__":
    main()
