"""OpenVINO IR (``openvino``, ``openvino-fp16``, ``openvino-int8``) converted from the
traced graph the ONNX targets verify.

OpenVINO runs FP32 models in bf16 on CPUs with AVX-512 bf16 unless told otherwise
(docs/benchmarks.md). So ``openvino`` records ``INFERENCE_PRECISION_HINT=f32`` in its
manifest and the runtime backend applies it; plain OpenVINO users must pass it themselves,
because the CPU plugin does not apply a hint stored in an IR's ``rt_info``.
``openvino-fp16`` stores FP16 weights and computes in the device's default precision, which
the runtime reports. ``openvino-int8`` is NNCF post-training quantization on the calibration
frames (``edgeir.calib.nncf_int8``), optionally accuracy-controlled against a PSNR budget
(``--max-psnr-drop``).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.calib.nncf_int8 import run_compiled
from edgeir.errors import EdgeIRError
from edgeir.export.calibration import calibration_lines
from edgeir.export.graph import DEFAULT_OPSET, save_onnx, trace
from edgeir.export.parity import held_out_agreement
from edgeir.export.pipeline import Network, Product
from edgeir.export.request import ExportRequest, ExportResult
from edgeir.fileio import remove, sha256_of
from edgeir.manifest import Manifest, manifest_path
from edgeir.runtimes.openvino_backend import precision_name

log = logging.getLogger("edgeir")

PINNED_F32 = {"INFERENCE_PRECISION_HINT": "f32"}


def _compile(model: Any, options: dict[str, Any]) -> Any:
    import openvino as ov

    return ov.Core().compile_model(model, "CPU", options)


def check_options(request: ExportRequest) -> None:
    shapes = request.shapes
    if request.options.get("max_psnr_drop") is not None and shapes.static and shapes.max_batch > 1:
        raise EdgeIRError(
            "expected --batch 1 with --max-psnr-drop (NNCF validates one frame at a time), "
            f"found --batch {shapes.max_batch}"
        )
    if request.target.precision == "int8":
        from edgeir.export.sensitive import check_module_names

        check_module_names(request, "OpenVINO")


def quantize_int8(model: Any, request: ExportRequest, network: Network) -> tuple[Any, dict[str, Any], Any]:
    """(INT8 model, what was done, the held-out frames it was not calibrated on)."""
    from edgeir.calib.nncf_int8 import quantize
    from edgeir.export.calibration import calibration_frames, describe
    from edgeir.export.sensitive import keep_fp32, sensitive_scopes

    fit, held_out = calibration_frames(request, network.size, network.batch)
    names = [op.get_friendly_name() for op in model.get_ordered_ops()]
    keep = keep_fp32(request.options["keep_fp32"], sensitive_scopes(names))
    quantized, details = quantize(model, fit, held_out, keep, network.batch, request.options["max_psnr_drop"],
                                  lambda m: _compile(m, PINNED_F32))
    fp32_compiled, int8_compiled = _compile(model, PINNED_F32), _compile(quantized, PINNED_F32)
    details.update(held_out_agreement(lambda b: run_compiled(fp32_compiled, b),
                                      lambda b: run_compiled(int8_compiled, b), held_out, network.batch))
    return quantized, {"calibration": describe(fit, held_out), **details}, held_out


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


@dataclass
class OpenVinoProduct(Product):
    model: Any = None
    compiled: Any = None

    def run(self, x: np.ndarray) -> np.ndarray:
        return run_compiled(self.compiled, x)

    def embed(self, manifest: Manifest) -> None:
        for key, value in manifest.metadata().items():
            self.model.set_rt_info(value, ["edgeir", key.removeprefix("edgeir.")])

    def save(self, path: Path) -> None:
        import openvino as ov

        ov.save_model(self.model, str(path), compress_to_fp16=False)  # openvino-fp16 is already

    def write(self, manifest: Manifest, output: Path) -> ExportResult:
        """The IR is two files, written in a scratch folder beside the output; the .bin goes
        into place first, then the manifest, then the .xml users open, and a failure removes
        what was placed, so an .xml never stands without its weights and manifest."""
        output.parent.mkdir(parents=True, exist_ok=True)
        weights = output.with_suffix(".bin")
        with tempfile.TemporaryDirectory(prefix=f".{output.name}.", suffix=".partial", dir=output.parent) as tmp:
            staged = Path(tmp) / "model.xml"
            self.save(staged)
            staged_bin = staged.with_suffix(".bin")
            manifest.artifact = {
                **self.artifact_record(staged, output),
                "weights_file": weights.name, "weights_sha256": sha256_of(staged_bin),
                "weights_size_bytes": staged_bin.stat().st_size,
            }
            try:
                os.replace(staged_bin, weights)
                path = manifest.write(manifest_path(output))
                os.replace(staged, output)
            except BaseException:
                for placed in (weights, manifest_path(output)):
                    remove(placed)
                raise
        log.info("wrote %s, %s and %s", output, weights.name, path.name)
        return ExportResult(output, path, manifest)

    def lines(self, manifest: Manifest) -> list[str]:
        details = manifest.details
        lines = [f"  cpu       computes in {details['cpu_inference_precision']} on this CPU"]
        lines += calibration_lines(details)
        if "max_psnr_drop_db" in details:
            verdict = "within budget" if details["within_budget"] else "OVER BUDGET: NNCF could not meet it"
            lines.append(f"  budget    PSNR drop {details['psnr_drop_db']} dB vs sharp frames, budget "
                         f"{details['max_psnr_drop_db']} dB: {verdict}")
        return lines


def make(request: ExportRequest, network: Network) -> OpenVinoProduct:
    import openvino as ov

    graph = trace(network.rewrite, request.shapes, DEFAULT_OPSET)
    with tempfile.TemporaryDirectory(prefix="edgeir-ov-") as tmp:
        # Converted from the same traced, simplified graph the ONNX targets verify.
        onnx_path = Path(tmp) / "model.onnx"
        save_onnx(graph, onnx_path)
        log.info("converting to OpenVINO IR")
        model = ov.convert_model(str(onnx_path))

    precision = request.target.precision
    if precision == "fp16":
        model = _with_fp16_weights(model)
    runtime_options = dict(PINNED_F32) if precision in ("fp32", "int8") else {}
    details: dict[str, Any] = {}
    held_out = None
    if precision == "int8":
        model, details, held_out = quantize_int8(model, request, network)
    compiled = _compile(model, runtime_options)
    used = precision_name(compiled)
    details["cpu_inference_precision"] = used
    return OpenVinoProduct(runtime=f"openvino CPU, inference precision {used}",
                           versions=("openvino", "nncf", "onnx"), details=details, held_out=held_out,
                           opset=DEFAULT_OPSET, runtime_options=runtime_options, precision=precision,
                           model=model, compiled=compiled)
