"""Core ML targets ``coreml`` (FP16 ML program, ``--precision fp32`` available) and
``coreml-int8`` (``--quant w8`` or ``w8a8``), as ``.mlpackage`` for Apple devices.

coremltools converts on any OS, but Core ML predicts only on macOS. So what can be checked
everywhere is checked everywhere: the traced module handed to the converter against the
faithful model, the ops and dtypes the converter wrote, the 8-bit loss in PyTorch; on macOS
the package is also run and compared with PyTorch. An FP16 ``coreml`` export first runs the
FP16 range check and keeps the layers it finds in FP32 (``edgeir.export.coreml.fp16``), or
refuses, naming them, where Core ML's ops cannot be matched to them; ``--precision fp32``
needs no check.
"""

from __future__ import annotations

import logging
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgeir.errors import EdgeIRError
from edgeir.export.coreml.convert import (
    DEPLOYMENT_TARGETS,
    ImageIO,
    convert,
    import_coremltools,
    trace,
)
from edgeir.export.coreml.fp16 import NOTE as FP16_NOTE
from edgeir.export.coreml.fp16 import (
    RANGE_CHECK_NEEDS,
    KeepFP32,
    check_kept,
    check_range_available,
    checks_range,
    range_check,
)
from edgeir.export.coreml.program import summary, weights_size
from edgeir.export.coreml.quantize import calibrate_w8a8, quantize_weights, weight_quantized_twin
from edgeir.export.fp16_range import warn
from edgeir.export.gate import INT8_MIN_PSNR
from edgeir.export.parity import compare, held_out_agreement
from edgeir.export.pipeline import Network, Product, parity_input
from edgeir.export.request import ExportRequest
from edgeir.manifest import Manifest
from edgeir.models import INPUT_NAME
from edgeir.models.registry import OUTPUT_NAMES

log = logging.getLogger("edgeir")

AUTHOR = "edgeir; network: ConvIR (https://github.com/c-yn/ConvIR)"
FAITHFUL_REFERENCE = "faithful PyTorch ConvIR, FP32"


def here(request: ExportRequest) -> str | None:
    """Said before the work starts: off macOS the package is converted and checked, not run."""
    if sys.platform == "darwin":
        return None
    return ("Core ML predicts only on macOS: the package is converted and checked here (the traced module "
            "against PyTorch, the program's ops and dtypes), not run")

def check_options(request: ExportRequest) -> None:
    """Options that would be ignored are refused (``--precision`` is not among
    coreml-int8's options: it computes in FP16), and an FP16 export without the packages of
    its range check."""
    options = request.options
    if options.get("quant") == "w8":
        calib = [f"--{k.replace('_', '-')}" for k in ("calib", "calib_frames") if options.get(k) is not None]
        if calib:
            raise EdgeIRError(f"expected {' and '.join(calib)} only with --quant w8a8 (W8 needs no "
                              "calibration frames), found --quant w8")
    if options.get("image_input") and request.shapes.max_batch != 1:
        raise EdgeIRError(f"expected --batch 1 with --image-input (one image per call), found "
                          f"--batch {request.shapes.max_batch}")
    if checks_range(request):
        check_range_available()


def _run(module: Any, x: np.ndarray, image_input: bool) -> np.ndarray:
    with torch.no_grad():
        out = module(torch.from_numpy(x)).numpy()
    return out / 255.0 if image_input else out


@dataclass
class CoreMLProduct(Product):
    """The converted package; what runs here is the traced module handed to coremltools."""

    mlmodel: Any = None
    traced: Any = None
    image_input: bool = False
    label: str = ""

    def run(self, x: np.ndarray) -> np.ndarray:
        return _run(self.traced, x, self.image_input)

    def expected(self, network: Network, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            reference = network.faithful.eval()(torch.from_numpy(x))[-1].numpy()
        return np.clip(reference, 0.0, 1.0) if self.image_input else reference

    def measure(self, x: np.ndarray, expected: np.ndarray, output: np.ndarray) -> None:
        if sys.platform == "darwin":
            from edgeir.runtimes.coreml_backend import predict_batch

            predicted = predict_batch(self.mlmodel, x, self.image_input)
            self.details["coreml_parity"] = {
                "runtime": f"Core ML on macOS {platform.mac_ver()[0]}, all compute units",
                **compare(expected, predicted)}

    def embed(self, manifest: Manifest) -> None:
        if self.image_input:
            image = {"name": INPUT_NAME, "type": "image", "color": "RGB", "range": [0, 255], "dtype": "uint8"}
            manifest.input, manifest.output = image, {**image, "name": OUTPUT_NAMES[-1]}
        _describe(self.mlmodel, manifest, self.label)

    def save(self, path: Path) -> None:
        self.mlmodel.save(str(path))

    def artifact_record(self, temp: Path, output: Path) -> dict[str, Any]:
        from edgeir.fileio import sha256_of

        return {"file": output.name, "sha256": sha256_of(temp),
                "size_bytes": sum(p.stat().st_size for p in temp.rglob("*") if p.is_file()),
                "weights_size_bytes": weights_size(temp)}

    def lines(self, manifest: Manifest) -> list[str]:
        details = manifest.details
        program = details["program"]
        lines = []
        if "psnr_vs_fp32_pytorch_db" in details:
            worst = (f" (worst frame {details['psnr_vs_fp32_pytorch_min_db']} dB)"
                     if "psnr_vs_fp32_pytorch_min_db" in details else "")
            lines.append(f"  8-bit     {details['psnr_vs_fp32_pytorch_db']} dB{worst} vs FP32 in PyTorch on "
                         f"{details['psnr_measured_on']}")
        if "calibration" in details:
            lines.append(f"  calib     {details['calibration']['frames']} frames of {details['calibration']['source']}")
        lines.append(f"  program   {sum(program['compute'].values())} ops computing in {program['compute_dtype']}, "
                     f"{program['weights_8bit']} 8-bit weight tensors, {program['activation_quantize_ops']} "
                     f"activation quantize ops; needs {details['minimum_deployment_target']}")
        coreml = details.get("coreml_parity")
        lines.append(f"  core ml   {coreml['psnr_db']} dB vs PyTorch" if coreml else
                     "  core ml   not run here: Core ML predicts only on macOS")
        return lines


def _eight_bit_loss(quant: str, rewrite: torch.nn.Module, network: torch.nn.Module, batch: int, size: Any,
                    held_out: Any) -> dict[str, Any]:
    """PSNR of the 8-bit model against FP32, in PyTorch (Core ML cannot run here): W8 through
    the same quantized weights, W8A8 through the calibrated module on the held-out frames."""
    if quant == "w8":
        x, described = parity_input(batch, size)
        twin = weight_quantized_twin(rewrite)
        return {
            "quantizer": "coremltools.optimize.coreml linear_quantize_weights, linear symmetric "
                         "int8 per channel",
            "psnr_vs_fp32_pytorch_db": compare(_run(rewrite, x, False), _run(twin, x, False))["psnr_db"],
            "psnr_measured_on": f"{described}, PyTorch with the same weights quantized by "
                                "coremltools.optimize.torch PostTrainingQuantizer",
        }
    agreement = held_out_agreement(lambda b: _run(rewrite, b, False), lambda b: _run(network, b, False),
                                   held_out, batch)
    found = {"psnr_vs_fp32_pytorch_db": agreement["psnr_vs_fp32_graph_db"],
             "psnr_vs_fp32_pytorch_min_db": agreement["psnr_vs_fp32_graph_min_db"],
             "psnr_measured_on": agreement["psnr_measured_on"]}
    if found["psnr_vs_fp32_pytorch_min_db"] < INT8_MIN_PSNR <= found["psnr_vs_fp32_pytorch_db"]:
        log.warning("W8A8 is %.1f dB from FP32 on its worst held-out frame (mean %.1f dB): min/max "
                    "ranges from these frames do not serve every frame; calibrate on frames from "
                    "your own camera", found["psnr_vs_fp32_pytorch_min_db"], found["psnr_vs_fp32_pytorch_db"])
    return found


def make(request: ExportRequest, network: Network) -> CoreMLProduct:
    import_coremltools()  # first, so that its import-time warnings stay quiet

    options = request.options
    quant = options["quant"] if request.target.precision == "int8" else None
    precision = options.get("precision") or "fp16"
    image_input = bool(options["image_input"])
    deployment = "iOS17" if quant == "w8a8" else "iOS16"
    details: dict[str, Any] = {
        "compute_precision": precision,
        "image_input": image_input,
        "minimum_deployment_target": DEPLOYMENT_TARGETS[deployment],
    }
    rewrite, candidate, held_out = network.rewrite, network.rewrite, None
    if quant == "w8a8":
        from edgeir.export.calibration import calibration_frames, describe

        fit, held_out = calibration_frames(request, network.size, network.batch)
        candidate = calibrate_w8a8(rewrite, fit, network.batch)
        details["calibration"] = describe(fit, held_out)
        details["quantizer"] = "coremltools.optimize.torch LinearQuantizer, min/max observers, Conv2d"
    if quant is not None:
        details.update(_eight_bit_loss(quant, rewrite, candidate, network.batch, network.size, held_out))
    ranges = range_check(request, network) if checks_range(request) else None
    module = ImageIO(candidate) if image_input else candidate
    traced = trace(module, request.shapes)
    # Core ML's module paths start above the network where ImageIO wraps it.
    prefix = tuple(name for name, child in module.named_children() if child is candidate)
    keep = KeepFP32(ranges, prefix) if ranges is not None and ranges.kept_nodes else None
    mlmodel = convert(traced, request.shapes, precision, image_input, deployment, keep)
    if ranges is not None:
        details["fp32_ops"] = check_kept(mlmodel, ranges, prefix)
        warn(ranges)
        details["fp16_range"] = ranges.record(FP16_NOTE)
    if quant == "w8":
        mlmodel = quantize_weights(mlmodel)
    details["program"] = summary(mlmodel.get_spec())
    checked_with = RANGE_CHECK_NEEDS if ranges is not None else ()
    compared = (f"the TorchScript module converted to Core ML (FP32, in torch.jit: Core ML predicts only on macOS, "
                f"so the {quant or precision} program itself is not run here)")
    return CoreMLProduct(runtime="torch.jit (Core ML predicts only on macOS)", compared=compared,
                         versions=("coremltools", *checked_with),
                         details=details, held_out=held_out, precision=quant or precision,
                         reference=FAITHFUL_REFERENCE, mlmodel=mlmodel, traced=traced, image_input=image_input,
                         label=network.rewrite.label)


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
