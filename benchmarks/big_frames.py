"""Time and peak memory of 1080p and 4K frames, whole and tiled, on ONNX Runtime and OpenVINO.

Exports ConvIR-S (demo weights) once per runtime with a dynamic range up to 4K, then
restores one frame per fresh process through ``Restorer`` (whole, ``tile=512`` and
``tile=736x1280``, overlap 32), reading the time of the second restore of the frame (the
first warms up: OpenVINO compiles a model for each input shape it meets) and the process's peak resident memory (``VmHWM``, libraries and model included).
Cost per megapixel shows whether time grows linearly with pixels; the tiled rows show what
the overlap adds. Run alone:

    python benchmarks/big_frames.py [--runtimes onnx openvino] [--tiles whole 512 736x1280]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import cpu_name

from edgeir.bench.machine import cpu_features

SIZES = {"1080p": (1080, 1920), "4K": (2160, 3840)}
DYNAMIC = "256x256:736x1280:2176x3840"
"""A range that takes a whole 4K frame (2160 padded to 2176, the next multiple of 32)."""

CHILD = """
import json, sys, time
import numpy as np
from edgeir.bench.measure import peak_rss_mb
from edgeir.runtimes.restorer import Restorer
path, h, w, tile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
tile = None if tile == "whole" else tuple(int(v) for v in tile.split("x")) if "x" in tile else int(tile)
with Restorer(path, tile=tile, overlap=32) as restorer:
    frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    restorer.restore(frame)  # warm-up: sessions, kernels, OpenVINO's compile for these shapes
    start = time.perf_counter()
    restorer.restore(frame)
    seconds = time.perf_counter() - start
    tiles = sum(len(b) for b in restorer.network_inputs(frame)) if tile is not None else 1
print(json.dumps({"seconds": seconds, "peak_mb": peak_rss_mb(), "runs": tiles}))
"""


def run_child(path: Path, size: tuple[int, int], tile: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(size[0]), str(size[1]), tile],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["failed"])[-1]}  # type: ignore[dict-item]
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtimes", nargs="+", default=["onnx", "openvino"])
    parser.add_argument("--tiles", nargs="+", default=["whole", "512", "736x1280"])
    args = parser.parse_args()

    from edgeir.export import export

    print(f"ConvIR-S, demo weights, FP32; one frame per fresh process; {cpu_name()}; "
          f"{' '.join(f for f in cpu_features() or [] if f.startswith(('avx', 'amx')))}\n")
    print("| runtime | frame | tiles | network runs | s | s per megapixel | peak MB |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for target in args.runtimes:
            suffix = ".onnx" if target == "onnx" else ".xml"
            artifact = export(target, output=Path(tmp) / f"s{suffix}", dynamic=DYNAMIC).artifact
            for name, size in SIZES.items():
                megapixels = size[0] * size[1] / 1e6
                for tile in args.tiles:
                    found = run_child(artifact, size, tile)
                    if "error" in found:
                        print(f"| {target} | {name} | {tile} | - | failed: {found['error']} | - | - |")
                        continue
                    print(f"| {target} | {name} | {tile} | {found['runs']} | {found['seconds']:.1f} | "
                          f"{found['seconds'] / megapixels:.2f} | {found['peak_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
