"""INT8 and OpenVINO precisions against FP32: latency and PSNR, in one process.

    python benchmarks/int8.py [--sizes 256x256 720x1280] [--frames 4] [--repeats 5]

Exports ConvIR-S (default weights: the demo weights) to onnx, onnx-int8 (cpu scheme),
openvino, openvino-fp16 and openvino-int8 with dynamic shapes, calibrated on the synthetic
``calib`` split at 256x256, then for each size (legal-padded) times every runtime
interleaved (median of ``--repeats`` runs on one frame) and measures on frames of the
synthetic ``eval`` split: PSNR against the FP32 output of the same runtime family, and the
PSNR drop against the sharp frames. OpenVINO ``bf16`` is the ``openvino`` IR compiled
with OpenVINO's default precision, which is bf16 on CPUs with AVX-512 bf16. Then, unless
``--no-profile``, the per-op-type times of FP32 and INT8 (OpenVINO's PERF_COUNT, ONNX
Runtime's profiler): where the INT8 speed-up comes from and what it cannot reach.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import cpu_name, onnxruntime_op_times, openvino_op_times, print_op_table

from edgeir.data.synthetic import SyntheticBlur
from edgeir.export import export
from edgeir.export.parity import compare
from edgeir.models.size import legal_size
from edgeir.runtimes import load
from edgeir.runtimes.frames import pad_to, to_chw
from edgeir.shapes import parse_hw


def _print_profiles(made: dict[str, Path], x: np.ndarray, repeats: int) -> None:
    print_op_table("OpenVINO time per op type and kernel precision (f32 pinned)",
                   {name: openvino_op_times(made[name], x, repeats) for name in ("openvino", "openvino-int8")})
    print_op_table("ONNX Runtime time per kernel (after its fusions)",
                   {name: onnxruntime_op_times(made[name], x, repeats) for name in ("onnx", "onnx-int8")})


def _runtimes(folder: Path) -> tuple[dict[str, object], dict[str, Path]]:
    dynamic = "256x256:256x256:736x1280"
    made = {}
    for target in ("onnx", "onnx-int8", "openvino", "openvino-fp16", "openvino-int8"):
        suffix = ".onnx" if target.startswith("onnx") else ".xml"
        result = export(target, output=folder / f"{target}{suffix}", dynamic=dynamic)
        made[target] = result.artifact
    runtimes = {name: load(path) for name, path in made.items()}
    import openvino as ov

    default = ov.Core().compile_model(str(made["openvino"]), "CPU")  # OpenVINO's own default

    class _Default:
        def __call__(self, x: np.ndarray) -> np.ndarray:
            return next(iter(default(x).values()))

    hint = default.get_property("INFERENCE_PRECISION_HINT")
    runtimes[f"openvino ({hint.to_string()}, default)"] = _Default()
    return runtimes, made



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["256x256", "720x1280"])
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-profile", action="store_true",
                        help="skip the per-op-type profiles of FP32 and INT8")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        runtimes, made = _runtimes(Path(tmp))
        print(f"ConvIR-S, demo weights, {cpu_name()}; dynamic exports calibrated at 256x256\n")
        for text in args.sizes:
            h, w = parse_hw(text)
            ph, pw = legal_size(h, w, "motion-deblur")
            pairs = SyntheticBlur("eval", (h, w), length=args.frames)
            frames = [(pad_to(to_chw(b)[0], ph, pw)[None], to_chw(s)[0][None]) for b, s in pairs]
            x = frames[0][0]
            times: dict[str, list[float]] = {name: [] for name in runtimes}
            for name, runtime in runtimes.items():
                runtime(x)  # warm-up: first-run allocations and kernel selection
            for _ in range(args.repeats):
                for name, runtime in runtimes.items():
                    start = time.perf_counter()
                    runtime(x)
                    times[name].append(time.perf_counter() - start)
            outputs = {name: [rt(b)[:, :, :h, :w] for b, _ in frames] for name, rt in runtimes.items()}
            print(f"### {h}x{w} (run at {ph}x{pw}), {args.frames} synthetic eval frames\n")
            print("| runtime | median ms | speed-up vs its FP32 | PSNR vs FP32 output dB | PSNR vs sharp dB | drop dB |")
            print("|---|---|---|---|---|---|")
            for name in runtimes:
                family = "onnx" if name.startswith("onnx") else "openvino"
                ms = statistics.median(times[name]) * 1000
                base = statistics.median(times[family]) * 1000
                vs_fp32 = [compare(r, o)["psnr_db"] for r, o in zip(outputs[family], outputs[name])]
                sharp = [compare(s, np.clip(o, 0, 1))["psnr_db"] for (_, s), o in zip(frames, outputs[name])]
                sharp_ref = [compare(s, np.clip(o, 0, 1))["psnr_db"] for (_, s), o in zip(frames, outputs[family])]
                fidelity = "identical" if None in vs_fp32 else f"{statistics.mean(vs_fp32):.2f}"
                drop = statistics.mean(sharp_ref) - statistics.mean(sharp)
                print(f"| {name} | {ms:.0f} | {base / ms:.2f}x | {fidelity} | {statistics.mean(sharp):.2f} | {drop:+.3f} |")
            print()
            if not args.no_profile:
                _print_profiles(made, x, args.repeats)


if __name__ == "__main__":
    main()
