"""Which parts of ConvIR-S INT8 hurts: NNCF quantization with different ignored scopes.

    python benchmarks/int8_scopes.py [--frames 3] [--repeats 3] [--calib-frames 16]

The figures behind ``openvino-int8``'s defaults (convolutions only; the last
full-resolution decoder block's dynamic-filter module kept in FP32). Exports the FP32
OpenVINO IR of ConvIR-S (default weights: the demo weights) with dynamic shapes, quantizes
it with ``nncf.quantize`` once per scope on the synthetic ``calib`` split at 256x256, and
for 256x256 and 720x1280 reports the speed-up over f32 (f32 pinned, interleaved medians)
and the PSNR drop against the sharp frames of the synthetic ``eval`` split.
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

from edgeir.calib import from_synthetic
from edgeir.calib.nncf_int8 import NOT_QUANTIZED_TYPES
from edgeir.data.synthetic import SyntheticBlur
from edgeir.export import export
from edgeir.export.openvino import PINNED_F32
from edgeir.export.parity import compare
from edgeir.export.sensitive import sensitive_scopes
from edgeir.models.size import legal_size
from edgeir.runtimes.frames import pad_to, to_chw

FULL_RESOLUTION = ["^/Encoder\\.0/.*", "^/Decoder\\.2/.*"]


def _scopes(names: list[str]) -> dict[str, dict[str, list[str]]]:
    (module,) = sensitive_scopes(names)
    module_pattern = "^" + re.escape(module) + "/.*"
    types = list(NOT_QUANTIZED_TYPES)
    return {
        "everything NNCF quantizes by default": {},
        "convolutions only": {"types": types},
        "convolutions, Encoder.0 and Decoder.2 in FP32": {"types": types, "patterns": FULL_RESOLUTION},
        f"convolutions, {module} in FP32 (default)": {"types": types, "patterns": [module_pattern]},
        f"everything but {module}": {"patterns": [module_pattern]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calib-frames", type=int, default=16)
    args = parser.parse_args()

    import logging

    import nncf
    import openvino as ov

    logging.getLogger("nncf").setLevel(logging.WARNING)  # one INFO line per skipped node otherwise

    core = ov.Core()
    with tempfile.TemporaryDirectory() as tmp:
        result = export("openvino", output=Path(tmp) / "s.xml", dynamic="256x256:256x256:736x1280")
        fp32 = core.read_model(str(result.artifact))
    names = [op.get_friendly_name() for op in fp32.get_ordered_ops()]
    calibration = nncf.Dataset(list(from_synthetic((256, 256), count=args.calib_frames).batches(1, whole=True)))
    compiled = {"f32": core.compile_model(fp32, "CPU", PINNED_F32)}
    for label, scope in _scopes(names).items():
        start = time.perf_counter()
        quantized = nncf.quantize(fp32, calibration, subset_size=args.calib_frames,
                                  ignored_scope=nncf.IgnoredScope(**scope, validate=False))
        print(f"quantized: {label} ({time.perf_counter() - start:.0f} s)", flush=True)
        compiled[label] = core.compile_model(quantized, "CPU", PINNED_F32)

    def run(model: object, x: np.ndarray) -> np.ndarray:
        return next(iter(model(x).values()))

    print(f"\nConvIR-S, demo weights, {cpu_name()}; calibrated on {args.calib_frames} frames at 256x256\n")
    rows: dict[str, list[str]] = {label: [] for label in compiled if label != "f32"}
    for h, w in ((256, 256), (720, 1280)):
        ph, pw = legal_size(h, w, "motion-deblur")
        frames = [(pad_to(to_chw(b)[0], ph, pw)[None], to_chw(s)[0][None])
                  for b, s in SyntheticBlur("eval", (h, w), length=args.frames)]
        x = frames[0][0]
        times: dict[str, list[float]] = {label: [] for label in compiled}
        for model in compiled.values():
            run(model, x)  # warm-up
        for _ in range(args.repeats):
            for label, model in compiled.items():
                start = time.perf_counter()
                run(model, x)
                times[label].append(time.perf_counter() - start)
        sharp = {label: statistics.mean(compare(s, np.clip(run(model, b)[:, :, :h, :w], 0, 1))["psnr_db"]
                                        for b, s in frames)
                 for label, model in compiled.items()}
        base = statistics.median(times["f32"])
        for label in rows:
            rows[label].append(f"{base / statistics.median(times[label]):.2f}x / {sharp['f32'] - sharp[label]:.2f}")
    print("| quantized | 256x256 speed-up / drop dB | 720x1280 speed-up / drop dB |")
    print("|---|---|---|")
    for label, cells in rows.items():
        print(f"| {label} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
