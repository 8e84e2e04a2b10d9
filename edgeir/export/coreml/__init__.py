"""Core ML targets ``coreml`` (FP16 ML program, ``--precision fp32`` available) and
``coreml-int8`` (``--quant w8`` or ``w8a8``), as ``.mlpackage`` for Apple devices.

coremltools converts on any OS, but Core ML predicts only on macOS. So what can be checked
everywhere is checked everywhere: the traced module handed to the converter against the
faithful model, the ops and dtypes the converter wrote, the 8-bit loss in PyTorch; on macOS
the package is also run and compared with PyTorch.
"""

from __future__ import annotations

import logging
import platform
import sys
from typing import Any

import numpy as np
import torch

from edgeir.errors import EdgeIRError
from edgeir.export.coreml.convert import (
    DEPLOYMENT_TARGETS,
    PRECISIONS,
    ImageIO,
    convert,
    import_coremltools,
    trace,
)
from edgeir.export.coreml.program import summary, weights_size
from edgeir.export.coreml.quantize import (
    QUANT_MODES,
    calibrate_w8a8,
    quantize_weights,
    weight_quantized_twin,
)
from edgeir.export.onnx import FP16_MIN_PSNR, INT8_MIN_PSNR
from edgeir.export.parity import compare, held_out_agreement, parity_input
from edgeir.export.request import ExportRequest, ExportResult, versions
from edgeir.fileio import atomic_path, sha256_of
from edgeir.manifest import Manifest, manifest_path
from edgeir.models import INPUT_NAME, exportable
from edgeir.models.registry import OUTPUT_NAMES

log = logging.getLogger("edgeir")

TRACED_MAX_ABS = 1e-4
"""The traced module against the faithful model (measured for S: under 1e-6)."""
AUTHOR = "edgeir; network: ConvIR (https://github.com/c-yn/ConvIR)"


def _settings(request: ExportRequest) -> tuple[str, str | None, bool]:
    """(compute precision, 8-bit mode or None, image I/O), refusing options that would be
    ignored (``--precision`` is not among coreml-int8's options: it computes in FP16)."""
    options = request.options
    precision = options.get("precision") or "fp16"
    if precision not in PRECISIONS:
        raise EdgeIRError(f"expected --precision {' or '.join(PRECISIONS)} for Core ML, found {precision!r}")
    quant = None
    if request.target.precision == "int8":
        quant = options.get("quant") or "w8"
        if quant not in QUANT_MODES:
            raise EdgeIRError(f"expected --quant {' or '.join(QUANT_MODES)}, found {quant!r}")
        calib = [f"--{k.replace('_', '-')}" for k in ("calib", "calib_frames") if options.get(k) is not None]
        if quant == "w8" and calib:
            raise EdgeIRError(f"expected {' and '.join(calib)} only with --quant w8a8 (W8 needs no "
                              "calibration frames), found --quant w8")
    image_input = bool(options.get("image_input"))
    if image_input and request.shapes.max_batch != 1:
        raise EdgeIRError(f"expected --batch 1 with --image-input (one image per call), found "
                          f"--batch {request.shapes.max_batch}")
    return precision, quant, image_input


def _faithful_reference(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model.eval()(torch.from_numpy(x))[-1].numpy()


def _run(module: Any, x: np.ndarray, image_input: bool) -> np.ndarray:
    with torch.no_grad():
        out = module(torch.from_numpy(x)).numpy()
    return out / 255.0 if image_input else out


def export_coreml(request: ExportRequest) -> ExportResult:
    import_coremltools()  # first, so that its import-time warnings stay quiet

    precision, quant, image_input = _settings(request)
    shapes = request.shapes
    deployment = "iOS17" if quant == "w8a8" else "iOS16"
    faithful = request.weights.build(request.variant, request.task)
    rewrite = exportable(faithful)
    batch, size = shapes.max_batch, (shapes.opt if shapes.static else shapes.min)
    details: dict[str, Any] = {
        "compute_precision": precision,
        "image_input": image_input,
        "minimum_deployment_target": DEPLOYMENT_TARGETS[deployment],
    }
    network, held_out = rewrite, None
    if quant == "w8a8":
        from edgeir.export.calibration import calibration_frames, describe

        fit, held_out = calibration_frames(request, size, batch)
        network = calibrate_w8a8(rewrite, fit, batch)
        details["calibration"] = describe(fit, held_out)
        details["quantizer"] = "coremltools.optimize.torch LinearQuantizer, min/max observers, Conv2d"
    traced = trace(ImageIO(network) if image_input else network, shapes)

    x, described = parity_input(batch, size, held_out)
    reference = _faithful_reference(faithful, x)
    if image_input:
        reference = np.clip(reference, 0.0, 1.0)
    parity = {
        "reference": "faithful PyTorch ConvIR, FP32",
        "candidate": "the TorchScript module handed to coremltools",
        "input": described,
        "runtime": "torch.jit (Core ML predicts only on macOS)",
        **compare(reference, _run(traced, x, image_input)),
    }
    if quant is None and not parity["max_abs"] <= TRACED_MAX_ABS:
        raise EdgeIRError(
            f"parity check failed: expected the traced module within {TRACED_MAX_ABS} of the "
            f"faithful model, found max abs error {parity['max_abs']:.3g}; nothing was written")

    if quant is not None:
        details.update(_eight_bit_loss(quant, rewrite, network, x, described, held_out, batch))
    mlmodel = convert(traced, shapes, precision, image_input, deployment)
    if quant == "w8":
        mlmodel = quantize_weights(mlmodel)
    details["program"] = summary(mlmodel.get_spec())
    if sys.platform == "darwin":
        details["coreml_parity"] = _predict_parity(mlmodel, x, reference, image_input, precision)

    manifest = request.manifest(parity=parity, details=details, versions=versions("coremltools"),
                                precision=quant or precision)
    if image_input:
        image = {"name": INPUT_NAME, "type": "image", "color": "RGB", "range": [0, 255],
                 "dtype": "uint8"}
        manifest.input, manifest.output = image, {**image, "name": OUTPUT_NAMES[-1]}
    _describe(mlmodel, manifest, rewrite.label)
    return _write(mlmodel, manifest, request)


def _eight_bit_loss(quant: str, rewrite: torch.nn.Module, network: torch.nn.Module, x: np.ndarray,
                    described: str, held_out: Any, batch: int) -> dict[str, Any]:
    """PSNR of the 8-bit model against FP32, in PyTorch (Core ML cannot run here): W8 through
    the same quantized weights, W8A8 through the calibrated module on the held-out frames.
    Refuses a broken quantization before anything is converted."""
    if quant == "w8":
        twin = weight_quantized_twin(rewrite)
        found = {
            "quantizer": "coremltools.optimize.coreml linear_quantize_weights, linear symmetric "
                         "int8 per channel",
            "psnr_vs_fp32_pytorch_db": compare(_run(rewrite, x, False), _run(twin, x, False))["psnr_db"],
            "psnr_measured_on": f"{described}, PyTorch with the same weights quantized by "
                                "coremltools.optimize.torch PostTrainingQuantizer",
        }
    else:
        agreement = held_out_agreement(lambda b: _run(rewrite, b, False),
                                       lambda b: _run(network, b, False), held_out, batch)
        found = {"psnr_vs_fp32_pytorch_db": agreement["psnr_vs_fp32_graph_db"],
                 "psnr_vs_fp32_pytorch_min_db": agreement["psnr_vs_fp32_graph_min_db"],
                 "psnr_measured_on": agreement["psnr_measured_on"]}
    worst = found.get("psnr_vs_fp32_pytorch_min_db")
    if worst is not None and worst < INT8_MIN_PSNR <= found["psnr_vs_fp32_pytorch_db"]:
        log.warning("W8A8 is %.1f dB from FP32 on its worst held-out frame (mean %.1f dB): min/max "
                    "ranges from these frames do not serve every frame; calibrate on frames from "
                    "your own camera", worst, found["psnr_vs_fp32_pytorch_db"])
    if not found["psnr_vs_fp32_pytorch_db"] >= INT8_MIN_PSNR:
        raise EdgeIRError(
            f"parity check failed: expected the {quant.upper()} model within {INT8_MIN_PSNR} dB "
            f"PSNR of FP32 in PyTorch, found {found['psnr_vs_fp32_pytorch_db']} dB; nothing was "
            "written" + ("; try --calib with your own frames" if quant == "w8a8" else ""))
    return found


def _predict_parity(mlmodel: Any, x: np.ndarray, reference: np.ndarray, image_input: bool,
                    precision: str) -> dict[str, Any]:
    """Core ML's own output against PyTorch (macOS only)."""
    from edgeir.runtimes.coreml_backend import predict_batch

    output = predict_batch(mlmodel, x, image_input)
    result = {"runtime": f"Core ML on macOS {platform.mac_ver()[0]}, all compute units",
              **compare(reference, output)}
    floor = FP16_MIN_PSNR if precision == "fp16" else None
    if floor is not None and result["psnr_db"] is not None and result["psnr_db"] < floor:
        raise EdgeIRError(f"parity check failed: expected Core ML within {floor} dB PSNR of "
                          f"PyTorch, found {result['psnr_db']} dB; nothing was written")
    return result


def _describe(mlmodel: Any, manifest: Manifest, label: str) -> None:
    """Metadata Xcode shows, and the manifest's facts as user-defined keys, so the package
    describes itself even without the manifest beside it."""
    from importlib import metadata

    rule = manifest.size_rule
    mlmodel.short_description = (
        f"{label}: {manifest.task} restoration, {manifest.precision}. Input sides must be "
        f"multiples of {rule['multiple']} and at least {rule['minimum']}; edgeir's Restorer pads "
        "any frame to a legal size and crops back.")
    mlmodel.author = AUTHOR
    mlmodel.version = metadata.version("edgeir")
    mlmodel.user_defined_metadata.update(manifest.metadata())
    kind = "RGB image" if manifest.details["image_input"] else "float32 NCHW RGB in [0, 1]"
    mlmodel.input_description[INPUT_NAME] = f"blurred frame, {kind}"
    mlmodel.output_description[OUTPUT_NAMES[-1]] = f"restored frame, {kind}"


def _write(mlmodel: Any, manifest: Manifest, request: ExportRequest) -> ExportResult:
    output = request.output
    with atomic_path(output) as temp:
        mlmodel.save(str(temp))
        manifest.artifact = {
            "file": output.name,
            "sha256": sha256_of(temp),
            "size_bytes": sum(p.stat().st_size for p in temp.rglob("*") if p.is_file()),
            "weights_size_bytes": weights_size(temp),
        }
        path = manifest.write(manifest_path(output))
    log.info("wrote %s and %s", output, path.name)
    return ExportResult(output, path, manifest)
