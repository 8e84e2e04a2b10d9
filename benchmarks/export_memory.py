"""Peak memory of `edgeir export` by target and input shape.

    python benchmarks/export_memory.py [--variant s] [--targets trt-fp16,onnx-fp16] [--shapes 256x256,736x1280]

Each export runs in a fresh process started from this small one, which reads its own peak
resident memory (``ru_maxrss``) when the export ends; an export the kernel kills for memory
is reported as such. Exports write to a temporary folder, deleted afterwards. The export's
checks (range check, FP16 conversion, parity) run at the shape asked for, so a static shape
is where their memory shows.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from edgeir.bench.machine import describe
from edgeir.export.pipeline import default_output
from edgeir.export.targets import get_target
from edgeir.models.registry import DEFAULT_TASK

CHILD = """
import resource, sys
from edgeir.cli import main
code = main(sys.argv[1:])
print("peak_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
sys.exit(code)
"""


def measure(variant: str, target: str, shape: str, folder: Path) -> tuple[str, float]:
    """(peak MB or why there is none, seconds) of one export."""
    output = folder / f"{shape}_{default_output(get_target(target), variant, DEFAULT_TASK).name}"
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, "export", "--variant", variant, "--target", target,
                           "--size", shape, "-o", str(output)],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode == -signal.SIGKILL:
        return "killed (out of memory)", seconds
    peaks = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("peak_mb ")]
    if done.returncode != 0 or not peaks:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no message"
        return f"failed ({done.returncode}): {last}", seconds
    return peaks[0], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="s")
    parser.add_argument("--targets", default="trt-fp16,onnx-fp16")
    parser.add_argument("--shapes", default="256x256,736x1280")
    args = parser.parse_args()
    machine = describe()
    print(f"{machine['cpu']}, {machine['cores']} cores, {', '.join(machine['cpu_features'] or ['features unknown'])}")
    print("| target | shape | peak MB | export s |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="edgeir-export-memory-") as tmp:
        for target in args.targets.split(","):
            for shape in args.shapes.split(","):
                peak, seconds = measure(args.variant, target, shape, Path(tmp))
                print(f"| {target} | {shape} | {peak} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
