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
import re
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import cpu_name

from edgeir.data.synthetic import SyntheticBlur
from edgeir.export import export
from edgeir.export.parity import compare
from edgeir.models.size import legal_size
from edgeir.runtimes import load
from edgeir.runtimes.frames import pad_to, to_chw
from edgeir.shapes import parse_hw


def _profile(xml: Path, x: np.ndarray, repeats: int) -> dict[str, float]:
    """Milliseconds per OpenVINO op type and kernel precision (f32 pinned), summed over the
    graph, median of ``repeats`` runs: where the time of one frame goes."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                        "PERF_COUNT": True})
    request = compiled.create_infer_request()
    runs: list[dict[str, float]] = []
    for _ in range(repeats):
        request.infer(x)
        spent: dict[str, float] = {}
        for item in request.get_profiling_info():
            if item.status != item.Status.EXECUTED:
                continue
            precision = "int8" if re.search("[IU]8", item.exec_type.upper()) else "f32"
            key = f"{item.node_type} ({precision})"
            spent[key] = spent.get(key, 0.0) + item.real_time.total_seconds() * 1000
        runs.append(spent)
    return {key: statistics.median(run.get(key, 0.0) for run in runs) for key in runs[-1]}


def _profile_onnxruntime(path: Path, x: np.ndarray, repeats: int) -> dict[str, float]:
    """Milliseconds per ONNX Runtime kernel (op type after its graph fusions, e.g.
    QLinearConv), from its profiler, median of ``repeats`` runs."""
    import json

    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = str(Path(tmp) / "ort")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        for _ in range(repeats):
            session.run(None, {name: x})
        events = json.loads(Path(session.end_profiling()).read_text())
    runs: list[dict[str, float]] = [{} for _ in range(repeats)]
    run = -1
    for event in events:
        if event.get("name") == "model_run":
            continue
        if event.get("cat") == "Session" and event.get("name") == "SequentialExecutor::Execute":
            run += 1
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time") and 0 <= run < repeats:
            key = event["args"]["op_name"]
            runs[run][key] = runs[run].get(key, 0.0) + event["dur"] / 1000
    return {key: statistics.median(r.get(key, 0.0) for r in runs) for key in set().union(*runs)}


def _print_profile(title: str, profiles: dict[str, dict[str, float]]) -> None:
    keys = sorted(set().union(*profiles.values()), key=lambda k: -max(p.get(k, 0) for p in profiles.values()))
    print(f"{title}, ms per frame:\n")
    print(f"| op type | {' | '.join(profiles)} |")
    print("|---" * (len(profiles) + 1) + "|")
    for key in keys[:12]:
        cells = [f"{profiles[n].get(key, 0.0):.0f}" for n in profiles]
        print(f"| {key} | {' | '.join(cells)} |")
    totals = [f"{sum(p.values()):.0f}" for p in profiles.values()]
    print(f"| all | {' | '.join(totals)} |\n")


def _print_profiles(made: dict[str, Path], x: np.ndarray, repeats: int) -> None:
    _print_profile("OpenVINO time per op type and kernel precision (f32 pinned)",
                   {name: _profile(made[name], x, repeats) for name in ("openvino", "openvino-int8")})
    _print_profile("ONNX Runtime time per kernel (after its fusions)",
                   {name: _profile_onnxruntime(made[name], x, repeats) for name in ("onnx", "onnx-int8")})


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
