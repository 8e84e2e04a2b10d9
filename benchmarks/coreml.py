"""Core ML exports of ConvIR-S, as far as Linux can measure them: time, size, ops, 8-bit loss.

    python benchmarks/coreml.py [--size 256] [--calib-frames N] [--only fp16,fp32,w8,w8a8] [--out DIR]

Exports ``coreml`` (FP16), ``coreml --precision fp32``, ``coreml-int8 --quant w8`` and
``--quant w8a8`` with the demo weights at a static ``--size`` through the library (the
same path as ``edgeir export``), and prints a Markdown table: export wall time, package and
weight-file sizes, the ops the converter wrote (by dtype), and the 8-bit models' PSNR
against FP32 measured in PyTorch. Core ML's own speed and FP16 numerics need macOS: on a
Mac the export's ``coreml_parity`` column is filled too.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from _common import cpu_name

from edgeir.export import export

RUNS = (
    ("coreml", "fp16", {}),
    ("coreml", "fp32", {"precision": "fp32"}),
    ("coreml-int8", "w8", {"quant": "w8"}),
    ("coreml-int8", "w8a8", {"quant": "w8a8"}),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--calib-frames", type=int, default=None,
                        help="W8A8 calibration frames (default: the export's, 32 synthetic, a quarter held out)")
    parser.add_argument("--only", default="fp16,fp32,w8,w8a8", help="which exports, by label")
    parser.add_argument("--out", type=Path, default=None, help="keep the packages here")
    args = parser.parse_args()

    out = args.out or Path(tempfile.mkdtemp(prefix="edgeir-coreml-bench-"))
    size = (args.size, args.size)
    print(f"ConvIR-S, demo weights, static 1x3x{args.size}x{args.size}; {cpu_name()}, "
          f"{platform.system()} {platform.machine()}\n")
    print("| export | wall s | package MB | weights MB | ops (dtype: count) | 8-bit vs FP32 in PyTorch | Core ML vs PyTorch |")
    print("|---|---|---|---|---|---|---|")
    chosen = args.only.split(",")
    for target, label, options in (r for r in RUNS if r[1] in chosen):
        if options.get("quant") == "w8a8" and args.calib_frames is not None:
            options = {**options, "calib_frames": args.calib_frames}
        start = time.perf_counter()
        result = export(target, variant="s", shape=size, output=out / f"s_{label}.mlpackage", **options)
        wall = time.perf_counter() - start
        details, artifact = result.manifest.details, result.manifest.artifact
        program = details["program"]
        ops = ", ".join(f"{dtype}: {count}" for dtype, count in program["compute"].items())
        eight = details.get("psnr_vs_fp32_pytorch_db")
        if "psnr_vs_fp32_pytorch_min_db" in details:
            eight = f"{eight} dB (min {details['psnr_vs_fp32_pytorch_min_db']}) on {details['psnr_measured_on']}"
        elif eight is not None:
            eight = f"{eight} dB"
        coreml = details.get("coreml_parity", {}).get("psnr_db", "not run (macOS only)")
        print(f"| {label} | {wall:.0f} | {artifact['size_bytes'] / 1e6:.1f} | "
              f"{artifact['weights_size_bytes'] / 1e6:.1f} | {ops} | "
              f"{eight or ''} | {coreml} |")
    print(f"\npackages in {out}")


if __name__ == "__main__":
    main()
