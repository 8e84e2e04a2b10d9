"""What the camera loop costs: `edgeir run` on a video (read, restore with
``Restorer.stream``, write) against the network alone on the same frames.

A synthetic 720p video (blurred photographs, as the synthetic eval split makes them) is
written once; the artifact is exported once (or given). Three timings, in this order:
the network alone on the padded frames (``Restorer.network_inputs``: what the runtime is
called with), ``edgeir run`` (``restore_files``, which streams), and the serial loop
``edgeir run`` used before (read, ``restore``, write, one frame after another). Run alone:

    python benchmarks/stream.py [--target openvino-int8] [--frames 60] [--artifact PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import cpu_name

from edgeir.bench.machine import cpu_features
from edgeir.data.synthetic import SyntheticBlur
from edgeir.data.video import VideoReader, VideoWriter
from edgeir.export import export
from edgeir.run import restore_files
from edgeir.runtimes.restorer import Restorer

SIZE = (720, 1280)
SUFFIX = {"onnx": ".onnx", "openvino": ".xml"}


def _video(path: Path, frames: int) -> Path:
    with VideoWriter(path, 25.0) as writer:
        for blurred, _ in SyntheticBlur("eval", SIZE, length=frames):
            writer.write(blurred)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="openvino-int8")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--artifact", help="an exported artifact (default: export --target at 736x1280)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        artifact = Path(args.artifact) if args.artifact else export(
            args.target, output=folder / f"model{SUFFIX[args.target.split('-')[0]]}",
            shape=(736, 1280)).artifact
        video = _video(folder / "in.avi", args.frames)
        with VideoReader(video) as reader:
            frames = list(reader)
        print(f"ConvIR-S, demo weights, {artifact.name}; {len(frames)} frames of {SIZE[0]}x{SIZE[1]}; "
              f"{cpu_name()}; {' '.join(f for f in cpu_features() or [] if f.startswith(('avx', 'amx')))}\n")
        with Restorer(artifact) as restorer:
            inputs = [restorer.network_inputs(frame) for frame in frames]
            restorer.runtime(inputs[0][0])  # warm-up
            start = time.perf_counter()
            for batches in inputs:
                for batch in batches:
                    restorer.runtime(batch)
            network = time.perf_counter() - start
            del inputs

            start = time.perf_counter()
            restore_files(restorer, video, folder / "streamed.avi")
            streamed = time.perf_counter() - start

            start = time.perf_counter()
            with VideoReader(video) as reader, VideoWriter(folder / "serial.avi", reader.fps) as writer:
                for frame in reader:
                    writer.write(restorer.restore(frame))
            serial = time.perf_counter() - start
        count = len(frames)
        print("| loop | s | frames/s | vs the network alone |")
        print("|---|---|---|---|")
        for name, seconds in (("network alone (padded inputs ready)", network),
                              ("edgeir run (Restorer.stream: decode, restore, encode)", streamed),
                              ("serial loop (decode, restore, encode, one after another)", serial)):
            print(f"| {name} | {seconds:.1f} | {count / seconds:.3f} | {network / seconds:.2f}x |")


if __name__ == "__main__":
    main()
