"""OpenVINO IR (``openvino``, ``openvino-fp16``, ``openvino-int8``) from the traced rewrite.

OpenVINO runs FP32 models in bf16 on CPUs with AVX-512 bf16 unless told otherwise
(DESIGN.md: 44.7 dB against f32). So ``openvino`` records ``INFERENCE_PRECISION_HINT=f32``
in its manifest and the runtime backend applies it; plain OpenVINO users must pass it
themselves, because the hint in an IR's ``rt_info`` is not applied by the CPU plugin
(checked with OpenVINO 2026.4). ``openvino-fp16`` stores FP16 weights and computes in the
device's default precision, which the runtime reports. ``openvino-int8`` is NNCF
post-training quantization on the calibration frames (``edgeir.calib.nncf_int8``),
optionally accuracy-controlled against a PSNR budget (``--max-psnr-drop``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgeir.calib.nncf_int8 import run_compiled
from edgeir.calib.sources import CalibrationSet
from edgeir.errors import EdgeIRError
from edgeir.export.onnx import DEFAULT_OPSET, FP32_MAX_ABS, INT8_MIN_PSNR, trace
from edgeir.export.parity import compare, held_out_agreement, parity_input
from edgeir.export.request import ExportRequest, ExportResult, versions
from edgeir.fileio import remove, sha256_of
from edgeir.manifest import manifest_path
from edgeir.models import exportable
from edgeir.runtimes.openvino_backend import precision_name

log = logging.getLogger("edgeir")

PINNED_F32 = {"INFERENCE_PRECISION_HINT": "f32"}
FP16_MIN_PSNR = 35.0
"""``openvino-fp16`` against the FP32 graph, as the CPU runs it (bf16 compute here)."""


def _compile(model: Any, options: dict[str, Any]) -> Any:
    import openvino as ov

    return ov.Core().compile_model(model, "CPU", options)


def quantize_int8(model: Any, request: ExportRequest, size: tuple[int, int],
                  batch: int) -> tuple[Any, dict[str, Any], CalibrationSet]:
    """(INT8 model, what was done, the held-out frames it was not calibrated on)."""
    from edgeir.calib.nncf_int8 import quantize
    from edgeir.export.calibration import calibration_frames, describe
    from edgeir.export.sensitive import keep_fp32, sensitive_scopes

    fit, held_out = calibration_frames(request, size, batch)
    names = [op.get_friendly_name() for op in model.get_ordered_ops()]
    keep = keep_fp32(request.options.get("keep_fp32"), sensitive_scopes(names))
    quantized, details = quantize(model, fit, held_out, keep, batch, request.options.get("max_psnr_drop"),
                                  lambda m: _compile(m, PINNED_F32))
    return quantized, {"calibration": describe(fit, held_out), **details}, held_out


def export_openvino(request: ExportRequest) -> ExportResult:
    import onnx
    import openvino as ov

    target, shapes = request.target, request.shapes
    if request.options.get("max_psnr_drop") is not None and shapes.static and shapes.max_batch > 1:
        raise EdgeIRError(
            "expected --batch 1 with --max-psnr-drop (NNCF validates one frame at a time), "
            f"found --batch {shapes.max_batch}"
        )
    rewrite = exportable(request.weights.build(request.variant, request.task))
    graph = trace(rewrite, shapes, DEFAULT_OPSET)
    with tempfile.TemporaryDirectory(prefix="edgeir-ov-") as tmp:
        # Converted from the same traced, simplified graph the ONNX targets verify.
        onnx_path = Path(tmp) / "model.onnx"
        onnx.save(graph, str(onnx_path))
        log.info("converting to OpenVINO IR")
        model = ov.convert_model(str(onnx_path))

    batch = shapes.max_batch if shapes.static else 1
    size = shapes.opt if shapes.static else shapes.min
    if target.precision == "fp16":
        model = _with_fp16_weights(model)
    runtime_options = dict(PINNED_F32) if target.precision in ("fp32", "int8") else {}
    details: dict[str, Any] = {}
    held_out = None
    fp32_model = model
    if target.precision == "int8":
        model, details, held_out = quantize_int8(model, request, size, batch)
    compiled = _compile(model, runtime_options)
    if held_out is not None:
        fp32_compiled = _compile(fp32_model, PINNED_F32)
        details.update(held_out_agreement(lambda b: run_compiled(fp32_compiled, b), lambda b: run_compiled(compiled, b),
                                          held_out, batch))
    x, described = parity_input(batch, size, held_out)
    with torch.no_grad():
        reference = rewrite(torch.from_numpy(x)).numpy()
    used = precision_name(compiled)
    output = run_compiled(compiled, x)
    parity = {
        "reference": "PyTorch export rewrite, FP32",
        "input": described,
        "runtime": f"openvino CPU, inference precision {used}",
        **compare(reference, output),
    }
    details["cpu_inference_precision"] = used
    _check(target.precision, parity, details)

    manifest = request.manifest(parity=parity, details=details, opset=DEFAULT_OPSET,
                                versions=versions("openvino", "nncf", "onnx"),
                                runtime_options=runtime_options)
    for key, value in manifest.metadata().items():
        model.set_rt_info(value, ["edgeir", key.removeprefix("edgeir.")])
    return _write(model, manifest, request.output)


def _check(precision: str, parity: dict[str, Any], details: dict[str, Any]) -> None:
    if precision == "fp32" and not parity["max_abs"] <= FP32_MAX_ABS:
        raise EdgeIRError(
            f"parity check failed: expected OpenVINO (f32 pinned) within {FP32_MAX_ABS} of "
            f"PyTorch, found max abs error {parity['max_abs']:.3g}; nothing was written"
        )
    if precision == "fp16" and not (parity["psnr_db"] or 100) >= FP16_MIN_PSNR:
        raise EdgeIRError(
            f"parity check failed: expected openvino-fp16 within {FP16_MIN_PSNR} dB of PyTorch, "
            f"found {parity['psnr_db']} dB; nothing was written"
        )
    if precision == "int8" and not (parity["psnr_db"] or 100) >= INT8_MIN_PSNR:
        raise EdgeIRError(
            f"parity check failed: expected the INT8 IR within {INT8_MIN_PSNR} dB PSNR of PyTorch, "
            f"found {parity['psnr_db']} dB; nothing was written"
        )
    if precision == "int8" and not details["psnr_vs_fp32_graph_db"] >= INT8_MIN_PSNR:
        raise EdgeIRError(
            f"parity check failed: expected the INT8 IR within {INT8_MIN_PSNR} dB PSNR of the FP32 "
            f"IR, found {details['psnr_vs_fp32_graph_db']} dB; nothing was written; try --calib "
            "with your own frames or --keep-fp32"
        )


def _with_fp16_weights(model: Any) -> Any:
    """The model as ``openvino-fp16`` writes it (weights compressed to FP16, as
    ``save_model`` does), read back into memory, so that the parity check runs the
    weights users get."""
    import openvino as ov

    with tempfile.TemporaryDirectory(prefix="edgeir-ov-fp16-") as tmp:
        xml = Path(tmp) / "model.xml"
        ov.save_model(model, str(xml), compress_to_fp16=True)
        weights = ov.Tensor(np.fromfile(xml.with_suffix(".bin"), dtype=np.uint8))
        return ov.Core().read_model(model=xml.read_text(), weights=weights)


def _write(model: Any, manifest: Any, xml: Path) -> ExportResult:
    """The IR is two files, written in a scratch folder beside the output; the .bin goes
    into place first, then the manifest, then the .xml users open, and a failure removes
    what was placed, so an .xml never stands without its weights and manifest."""
    import openvino as ov

    xml = Path(xml)
    xml.parent.mkdir(parents=True, exist_ok=True)
    weights = xml.with_suffix(".bin")
    with tempfile.TemporaryDirectory(prefix=f".{xml.name}.", suffix=".partial", dir=xml.parent) as tmp:
        staged = Path(tmp) / "model.xml"
        ov.save_model(model, str(staged), compress_to_fp16=False)  # openvino-fp16 is already
        staged_bin = staged.with_suffix(".bin")
        manifest.artifact = {
            "file": xml.name, "sha256": sha256_of(staged), "size_bytes": staged.stat().st_size,
            "weights_file": weights.name, "weights_sha256": sha256_of(staged_bin),
            "weights_size_bytes": staged_bin.stat().st_size,
        }
        try:
            os.replace(staged_bin, weights)
            path = manifest.write(manifest_path(xml))
            os.replace(staged, xml)
        except BaseException:
            for placed in (weights, manifest_path(xml)):
                remove(placed)
            raise
    log.info("wrote %s, %s and %s", xml, xml.with_suffix(".bin").name, path.name)
    return ExportResult(xml, path, manifest)
