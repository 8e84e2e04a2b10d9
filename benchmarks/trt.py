"""TensorRT engines of ConvIR-S: latency, FPS and PSNR against FP32, on a GPU machine.

    python benchmarks/trt.py [--sizes 256x256 720x1280] [--frames 4] [--runs 50] [--warmup 10]

Builds trt-fp16 and trt-int8 engines (demo weights; INT8 calibrated on 32 synthetic
``calib`` frames at each size) with a static profile per size (720x1280 is padded to the
legal 736x1280), then for each: latency of one backend call, host-to-device and back
included (median and p90 of ``--runs`` runs after ``--warmup``), FPS = 1000 / median, and
on frames of the synthetic
``eval`` split the PSNR against PyTorch FP32 and the PSNR drop against the sharp frames.
On a machine without TensorRT or a CUDA GPU it prints what it skipped and why, and exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from edgeir.runtimes.tensorrt_engine import why_no_engine

TARGETS = ("trt-fp16", "trt-int8")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["256x256", "720x1280"])
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()

    missing = why_no_engine()
    if missing is not None:
        for size in args.sizes:
            for target in TARGETS:
                print(f"skipped {target} at {size}: {missing}")
        return

    import torch

    from edgeir.data.synthetic import SyntheticBlur
    from edgeir.export import export
    from edgeir.models import exportable, load_checkpoint
    from edgeir.models.size import legal_size
    from edgeir.models.weights import demo_path
    from edgeir.runtimes import load
    from edgeir.runtimes.frames import to_chw
    from edgeir.shapes import parse_hw

    reference = exportable(load_checkpoint(demo_path("s", "motion-deblur"), task="motion-deblur")).cuda().eval()
    print(f"GPU: {torch.cuda.get_device_name(0)}, TensorRT {__import__('tensorrt').__version__}\n")
    print("| target | size | latency p50 ms | p90 ms | FPS | PSNR vs FP32 dB | PSNR drop dB |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for text in args.sizes:
            h, w = legal_size(*parse_hw(text), "motion-deblur")
            pairs = SyntheticBlur("eval", (h, w), length=args.frames)
            inputs = [to_chw(blurred)[0][None] for blurred, _ in pairs]
            sharp = [to_chw(s)[0][None] for _, s in pairs]
            with torch.no_grad():
                expected = [reference(torch.from_numpy(x).cuda()).cpu().numpy() for x in inputs]
            for target in TARGETS:
                result = export(target, shape=(h, w), output=Path(tmp) / f"{target}_{h}x{w}.engine")
                runtime = load(result.artifact)
                for _ in range(args.warmup):
                    runtime(inputs[0])
                times = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    runtime(inputs[0])
                    times.append((time.perf_counter() - start) * 1000)
                outputs = [runtime(x) for x in inputs]
                fidelity = statistics.mean(_psnr(e, o) for e, o in zip(expected, outputs))
                drop = statistics.mean(_psnr(s, np.clip(e, 0, 1)) - _psnr(s, np.clip(o, 0, 1))
                                       for s, e, o in zip(sharp, expected, outputs))
                p50, p90 = statistics.median(times), float(np.percentile(times, 90))
                print(f"| {target} | {text} | {p50:.2f} | {p90:.2f} | {1000 / p50:.1f} | {fidelity:.2f} | {drop:.3f} |")
                runtime.close()


if __name__ == "__main__":
    main()
