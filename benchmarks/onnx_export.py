"""ONNX Runtime CPU latency: edgeir's ONNX export vs a naive export of upstream ConvIR.

    pip install onnxscript   # for the naive (dynamo) export only
    python benchmarks/onnx_export.py [--variant s] [--sizes 256x256,720x1280] [--runs 7,3]

The naive path is what a user gets without edgeir: ``torch.onnx.export(dynamo=True)`` of
the faithful model (the TorchScript exporter fails on it), exported at each size. edgeir's
graph is the dynamic one ``edgeir export --target onnx`` writes. Runs are interleaved in
one process; the table shows medians and their ratio. Also: Restorer pre/post-processing
time for one 1080p uint8 frame (everything but the network).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from _common import activate_dynamic_branches, cpu_name

from edgeir.export import export
from edgeir.models import create_model, legal_size
from edgeir.runtimes.frames import from_chw, pad_to, to_chw
from edgeir.shapes import parse_hw


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _time(session: ort.InferenceSession, x: np.ndarray) -> float:
    name = session.get_inputs()[0].name
    start = time.perf_counter()
    session.run(None, {name: x})
    return time.perf_counter() - start


def _naive_export(model: torch.nn.Module, size: tuple[int, int], path: Path) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.rand(1, 3, *size),), str(path), dynamo=True)


def _restorer_overhead(runs: int) -> tuple[float, float]:
    frame = np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    pre, post = [], []
    for _ in range(runs):
        start = time.perf_counter()
        chw, fmt, alpha = to_chw(frame)
        batch = pad_to(chw, 1088, 1920)[None]
        middle = time.perf_counter()
        from_chw(batch[0][:, :1080, :1920], fmt, alpha)
        end = time.perf_counter()
        pre.append(middle - start)
        post.append(end - middle)
    return statistics.median(pre) * 1e3, statistics.median(post) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="s")
    parser.add_argument("--sizes", default="256x256,720x1280")
    parser.add_argument("--runs", default="7,3", help="timed runs per size, comma-separated")
    args = parser.parse_args()
    sizes = [parse_hw(s) for s in args.sizes.split(",")]
    runs = [int(r) for r in args.runs.split(",")]

    model = activate_dynamic_branches(create_model(args.variant))

    print(f"CPU: {cpu_name()}; onnxruntime {ort.__version__}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        weights = tmp / "weights.pkl"
        torch.save({"model": model.state_dict()}, weights)
        ours = _session(export("onnx", variant=args.variant, weights=weights, output=tmp / "edgeir.onnx").artifact)
        print(f"\nConvIR-{args.variant.upper()}, batch 1, ONNX Runtime CPU, medians of interleaved runs\n")
        print("| size | naive dynamo export ms | edgeir ONNX ms | speed-up |")
        print("|---|---|---|---|")
        for (h, w), count in zip(sizes, runs):
            lh, lw = legal_size(h, w)
            naive_path = tmp / f"naive_{lh}x{lw}.onnx"
            _naive_export(model, (lh, lw), naive_path)
            naive = _session(naive_path)
            x = np.random.default_rng(0).random((1, 3, lh, lw), dtype=np.float32)
            _time(naive, x), _time(ours, x)  # warm-up
            timings = {"naive": [], "ours": []}
            for _ in range(count):
                timings["naive"].append(_time(naive, x))
                timings["ours"].append(_time(ours, x))
            a = statistics.median(timings["naive"]) * 1e3
            b = statistics.median(timings["ours"]) * 1e3
            label = f"{h}x{w}" + (f" (padded {lh}x{lw})" if (lh, lw) != (h, w) else "")
            print(f"| {label} | {a:.0f} | {b:.0f} | {a / b:.2f}x |", flush=True)
    pre, post = _restorer_overhead(runs=10)
    print(f"\nRestorer overhead per 1080x1920 uint8 frame (median of 10): "
          f"pre-processing {pre:.1f} ms, post-processing {post:.1f} ms")


if __name__ == "__main__":
    main()
