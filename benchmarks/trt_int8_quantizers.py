"""Which quantizer makes the trt-int8 graph: NVIDIA ModelOpt or ONNX Runtime (trt scheme)?

    python benchmarks/trt_int8_quantizers.py [--size 256] [--calib 8] [--held-out 4]

ConvIR-S with the demo weights, traced at a static size; every candidate quantizes the
convolutions only, calibrated on the first ``--calib`` frames of the synthetic ``calib``
split and measured on the next ``--held-out`` frames: PSNR against the FP32 graph as ONNX
Runtime runs it, the same with FP16 storage emulated (what TensorRT's FP16 parts do), the
TensorRT compatibility check, and the quantizer's wall time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from _common import cpu_name

from edgeir.calib.modelopt_int8 import quantize as modelopt_int8
from edgeir.calib.onnx_int8 import quantize as ort_quantize
from edgeir.calib.sources import CalibrationSet
from edgeir.data.synthetic import SyntheticBlur
from edgeir.export.graph import FP16_KEEP_OPS, session, trace
from edgeir.export.parity import compare
from edgeir.export.tensorrt.compat import check_graph
from edgeir.export.tensorrt.emulate import emulation_session
from edgeir.models import INPUT_NAME, exportable, load_checkpoint
from edgeir.models.weights import demo_path
from edgeir.shapes import InputShapes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--calib", type=int, default=8)
    parser.add_argument("--held-out", type=int, default=4)
    args = parser.parse_args()

    size = (args.size, args.size)
    shapes = InputShapes.fixed(size, "motion-deblur")
    model = exportable(load_checkpoint(demo_path("s", "motion-deblur"), task="motion-deblur"))
    fp32 = trace(model, shapes, 17)
    pairs = SyntheticBlur("calib", size, length=args.calib + args.held_out)
    frames = np.stack([b for b, _ in pairs]).transpose(0, 3, 1, 2).astype(np.float32) / 255
    fit, held_out = frames[: args.calib], frames[args.calib :]

    def modelopt(method: str):
        return lambda: modelopt_int8(fp32, fit, 1, method, fp32_op_types=FP16_KEEP_OPS)[0]

    def onnxruntime(method: str):
        return lambda: ort_quantize(fp32, CalibrationSet(fit, "synthetic"), "trt", method, progress=False)[0]

    candidates = {
        "ModelOpt, max ranges, FP16 elsewhere (edgeir's trt-int8)": modelopt("minmax"),
        "ModelOpt, entropy ranges, FP16 elsewhere": modelopt("entropy"),
        "ONNX Runtime trt scheme, min-max, FP32 elsewhere": onnxruntime("minmax"),
        "ONNX Runtime trt scheme, entropy, FP32 elsewhere": onnxruntime("entropy"),
    }
    reference = session(fp32)
    print(f"ConvIR-S demo weights, {args.size}x{args.size}, {args.calib} calibration + {args.held_out} "
          f"held-out synthetic frames; {cpu_name()}\n")
    print("| quantizer | PSNR vs FP32 graph dB | FP16 storage emulated dB | TensorRT check | time s |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for label, make in candidates.items():
            start = time.perf_counter()
            graph = make()
            seconds = time.perf_counter() - start
            onnx.save(graph, str(Path(tmp) / "g.onnx"))
            plain, emulated = session(graph), emulation_session(graph)
            run, emu = [], []
            for x in held_out:
                expected = reference.run(None, {INPUT_NAME: x[None]})[0]
                run.append(compare(expected, plain.run(None, {INPUT_NAME: x[None]})[0])["psnr_db"])
                emu.append(compare(expected, emulated.run(None, {INPUT_NAME: x[None]})[0])["psnr_db"])
            report = check_graph(graph, shapes)
            verdict = "passes" if report.ok else f"{len(report.problems)} problems, e.g. {report.problems[0]}"
            print(f"| {label} | {statistics.mean(run):.2f} | {statistics.mean(emu):.2f} | {verdict} | {seconds:.0f} |",
                  flush=True)


if __name__ == "__main__":
    main()
