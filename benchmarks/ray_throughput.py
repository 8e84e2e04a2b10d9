"""Throughput of ``edgeir run`` in one process against ``--ray`` with 1 and 2 workers, on
the same files, rounds interleaved.

    python benchmarks/ray_throughput.py [--images 24] [--frames 32] [--rounds 2]

ConvIR-S with the demo weights, exported here to dynamic ONNX, restores a folder of
256x256 images and a video of 256x256 frames. Serial: ONNX Runtime with its default
threads. Ray: a local instance started for each run, as ``edgeir run --ray`` does:
``wall`` counts its start; ``restoring`` counts from the dataset's start, the workers'
start and model loading included.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from edgeir.bench.machine import cpu_features, cpu_name
from edgeir.data.io import write_image
from edgeir.data.video import VideoWriter
from edgeir.distributed.batch import RayOptions, restore_on_ray
from edgeir.distributed.worker import RestoreOptions
from edgeir.export import export
from edgeir.run import restore_files
from edgeir.runtimes.restorer import Restorer


def make_inputs(root: Path, images: int, frames: int) -> list[Path]:
    rng = np.random.default_rng(0)
    folder = root / "images"
    folder.mkdir()
    for i in range(images):
        write_image(folder / f"{i:03d}.png", rng.integers(0, 255, (256, 256, 3), dtype=np.uint8))
    video = root / "clip.avi"
    with VideoWriter(video, 25.0) as writer:
        for _ in range(frames):
            writer.write(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8))
    return [folder, video]


def serial(model: str, inputs: list[Path], out: Path) -> dict[str, float]:
    began = time.perf_counter()
    restorer = Restorer(model)
    loaded = time.perf_counter()
    report = restore_files(restorer, inputs, out)
    end = time.perf_counter()
    return {"wall": end - began, "restoring": end - loaded, "frames": report.frames}


def on_ray(model: str, inputs: list[Path], out: Path, workers: int, threads: int) -> dict[str, float]:
    began = time.perf_counter()
    report, _ = restore_on_ray(RestoreOptions(model), inputs, out, RayOptions(workers=workers, threads=threads))
    end = time.perf_counter()
    return {"wall": end - began, "restoring": report.seconds, "frames": report.frames}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    cpus = os.cpu_count() or 1
    print(f"CPU: {cpu_name()}, {cpus} cores; flags: {' '.join(f for f in cpu_features() or [] if f.startswith('avx'))}")
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        model = str(export("onnx", output=root / "s.onnx").artifact)
        inputs = make_inputs(root, args.images, args.frames)
        runs = {"edgeir run (one process)": lambda out: serial(model, inputs, out),
                "--ray, 1 worker x 2 threads": lambda out: on_ray(model, inputs, out, 1, cpus),
                f"--ray, {cpus} workers x 1 thread": lambda out: on_ray(model, inputs, out, cpus, 1)}
        results: dict[str, list[dict[str, float]]] = {name: [] for name in runs}
        for round_ in range(args.rounds):
            for name, run in runs.items():
                out = root / "out"
                results[name].append(run(out))
                shutil.rmtree(out)
                last = results[name][-1]
                print(f"round {round_ + 1} {name}: {last['frames']:.0f} frames, wall {last['wall']:.1f} s, "
                      f"restoring {last['restoring']:.1f} s", flush=True)
    print("\n| run | frames | wall s (median) | frames/s wall | frames/s restoring |")
    print("|---|---|---|---|---|")
    for name, rows in results.items():
        wall = float(np.median([r["wall"] for r in rows]))
        work = float(np.median([r["restoring"] for r in rows]))
        frames = rows[0]["frames"]
        print(f"| {name} | {frames:.0f} | {wall:.1f} | {frames / wall:.2f} | {frames / work:.2f} |")


if __name__ == "__main__":
    main()
