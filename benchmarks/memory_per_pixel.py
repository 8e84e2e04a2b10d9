"""Peak memory of one whole-frame restoration against the frame's pixel count.

    python benchmarks/memory_per_pixel.py [--sizes 256 512 768 1024] [--variant s]

Exports ConvIR (random initialisation: memory does not depend on the weights) to a dynamic
ONNX and an f32 OpenVINO IR, then for each runtime (torch, onnxruntime, openvino) and size runs
one frame in a fresh process and reads its peak resident memory (``VmHWM``, which includes
the runtime's libraries and the model; not ``ru_maxrss``, which Linux carries over from the
parent across ``exec``, so a child started by a large process reports the parent's size). The slope of peak memory over pixels is what a
larger frame adds per pixel; ``edgeir.runtimes.memory.PEAK_BYTES_PER_PIXEL`` is set from the
largest slope, so that the estimate made before a large frame errs on the high side.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import cpu_name

CHILD = """
import json, sys
import numpy as np
kind, path, side = sys.argv[1], sys.argv[2], int(sys.argv[3])
x = np.random.default_rng(0).random((1, 3, side, side), dtype=np.float32)
if kind == "torch":
    import torch
    from edgeir.models.weights import choose_weights
    from edgeir.runtimes.torch_backend import TorchRuntime
    torch.set_num_threads(2)
    runtime = TorchRuntime(choose_weights(path, "motion-deblur", "random"), "cpu", variant=path)
else:
    from edgeir.runtimes import load
    runtime = load(path, "cpu")
runtime(x)
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print(json.dumps({"peak_mb": int(hwm.split()[1]) / 1024}))
"""


def peak_mb(kind: str, path: str, side: int) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, kind, path, str(side)], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 768, 1024])
    parser.add_argument("--variant", default="s")
    args = parser.parse_args()

    from edgeir.export import export

    with tempfile.TemporaryDirectory() as tmp:
        big = max(args.sizes)
        dynamic = f"{min(args.sizes)}x{min(args.sizes)}:{big}x{big}:{big}x{big}"
        onnx = export("onnx", variant=args.variant, weights="random", output=Path(tmp) / "m.onnx", dynamic=dynamic)
        ov = export("openvino", variant=args.variant, weights="random", output=Path(tmp) / "m.xml", dynamic=dynamic)
        runs = {"torch": args.variant, "onnxruntime": str(onnx.artifact), "openvino": str(ov.artifact)}
        print(f"ConvIR-{args.variant.upper()}, one frame per fresh process; {cpu_name()}\n")
        print("| runtime | " + " | ".join(f"{s}x{s} peak MB" for s in args.sizes) + " | MB per megapixel (slope) |")
        print("|---|" + "---|" * (len(args.sizes) + 1))
        for kind, path in runs.items():
            peaks = [peak_mb(kind, path, side) for side in args.sizes]
            pixels = np.array([side * side for side in args.sizes], float)
            slope = np.polyfit(pixels / 1e6, peaks, 1)[0]
            print(f"| {kind} | " + " | ".join(f"{p:.0f}" for p in peaks) + f" | {slope:.0f} |")


if __name__ == "__main__":
    main()
