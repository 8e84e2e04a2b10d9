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
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.calib.nncf_int8 import run_compiled
from edgeir.errors import EdgeIRError
from edgeir.export.calibration import budget_gates, calibration_lines
from edgeir.export.fp16_range import RangeCheck
from edgeir.export.graph import DEFAULT_OPSET, save_onnx, trace
from edgeir.export.parity import held_out_agreement
from edgeir.export.pipeline import Network, Product, write_with_weights
from edgeir.export.request import ExportRequest, ExportResult
from edgeir.manifest import Manifest
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


FP32_MARK = "precise_0"
"""The rt_info key Python sets to keep an op and its constants out of FP16. OpenVINO's
serializer turns it into its attribute (``DisableFP16Compression``; from 2026
``DisablePrecisionConversion`` to f16), which ``save_model(compress_to_fp16=True)`` and the
plugins that compute in FP16 (GPU; CPUs with FP16 arithmetic) respect."""
FP32_MARKS = (FP32_MARK, "DisablePrecisionConversion_0")
"""The mark's key in an IR read back, by OpenVINO version."""
FP16_RANGE_NOTE = (
    "the ops computing them (fp32_ops) are marked to stay FP32 in the IR (OpenVINO's disable-FP16 "
    "rt_info): their constants are stored f32, and a plugin that computes in FP16 (the GPU plugin) "
    "keeps them in f32; a CPU computes in cpu_inference_precision, and bf16 and f32 reach 3.4e38, so "
    "nothing overflows there"
)


def _round_trip(model: Any, compress_to_fp16: bool) -> Any:
    """``model`` saved as an IR and read back into memory."""
    import openvino as ov

    with tempfile.TemporaryDirectory(prefix="edgeir-ov-fp16-") as tmp:
        xml = Path(tmp) / "model.xml"
        ov.save_model(model, str(xml), compress_to_fp16=compress_to_fp16)
        weights = ov.Tensor(np.fromfile(xml.with_suffix(".bin"), dtype=np.uint8))
        return ov.Core().read_model(model=xml.read_text(), weights=weights)


def _with_fp16_weights(model: Any, keep: list[Any] | None = None) -> Any:
    """The model as ``openvino-fp16`` writes it (weights compressed to FP16, as
    ``save_model`` does), read back into memory, so that the parity check runs the
    weights users get. The ops ``keep`` are marked FP32 first; an FP32 round trip makes the
    marks attributes, which the compression then respects."""
    if keep:
        for op in keep:
            op.get_rt_info()[FP32_MARK] = ""
            for source in (i.get_source_output().get_node() for i in op.inputs()):
                if source.get_type_name() == "Constant" and source.get_output_element_type(0).is_real():
                    source.get_rt_info()[FP32_MARK] = ""
        model = _round_trip(model, compress_to_fp16=False)
    return _round_trip(model, compress_to_fp16=True)


def marked_fp32(model: Any) -> list[str]:
    """Friendly names of the compute ops marked to stay FP32 (constants left out)."""
    return [op.get_friendly_name() for op in model.get_ordered_ops()
            if op.get_type_name() != "Constant" and any(k in op.get_rt_info() for k in FP32_MARKS)]


def fp16_range_ops(model: Any, ranges: RangeCheck) -> list[Any]:
    """The ops of ``model`` (converted from the traced graph) that compute the nodes the
    range check keeps. OpenVINO names an op after its ONNX node, or the node's name plus a
    suffix where one node became several (``Conv/WithoutBiases``), or after the last node of
    a fused pattern (GELU); the makers and readers of the over-bound tensors, found by tensor
    name, cover nodes fused away. The Adds that read a chosen op are chosen too: the CPU
    plugin fuses a convolution with the residual Add after it, and a group marked only in
    part fails to compile in bf16 ("object is not initialized", OpenVINO 2026.4)."""
    kept, over = set(ranges.kept_nodes), set(ranges.over)
    chosen: dict[str, Any] = {}
    for op in model.get_ordered_ops():
        if op.get_type_name() in ("Constant", "Parameter", "Result"):
            continue
        parts = op.get_friendly_name().split("/")
        if any("/".join(parts[:end]) in kept for end in range(2, len(parts) + 1)):
            chosen.setdefault(op.get_friendly_name(), op)
        for output in op.outputs():
            if output.get_names() & over:
                chosen.setdefault(op.get_friendly_name(), op)
                for reader in _readers(output):
                    chosen.setdefault(reader.get_friendly_name(), reader)
    for op in list(chosen.values()):
        for output in op.outputs():
            for reader in _readers(output):
                if reader.get_type_name() == "Add":
                    chosen.setdefault(reader.get_friendly_name(), reader)
    return list(chosen.values())


def _readers(output: Any) -> list[Any]:
    return [t.get_node() for t in output.get_target_inputs() if t.get_node().get_type_name() != "Result"]


def _fp16_ir(model: Any, graph: Any, request: ExportRequest, network: Network) -> tuple[Any, dict[str, Any]]:
    """(the FP16-weights model, its ``fp16_range`` record): the range check runs on the
    traced graph the IR was converted from, and the ops of the layers it keeps are marked
    FP32 in the IR."""
    from edgeir.export.fp16_range import check_range
    from edgeir.export.onnx import range_frames

    ranges = check_range(graph, range_frames(request, network))
    keep = fp16_range_ops(model, ranges) if ranges.kept_nodes else []
    if ranges.kept_nodes and not keep:
        raise EdgeIRError(f"expected OpenVINO ops for the {len(ranges.kept_nodes)} layer(s) that overflow FP16, "
                          f"found none: {ranges.describe()}; export with --target openvino (f32)")
    wanted = sorted(op.get_friendly_name() for op in keep)
    model = _with_fp16_weights(model, keep)
    found = set(marked_fp32(model))
    if not found.issuperset(wanted):
        lost = [name for name in wanted if name not in found]
        raise EdgeIRError(f"expected the IR to keep {len(wanted)} op(s) marked FP32, found {len(lost)} "
                          f"unmarked after saving, first {lost[0]}; nothing was written")
    return model, {"fp16_range": ranges.record(FP16_RANGE_NOTE), "fp32_ops": wanted}


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
        return write_with_weights(self, manifest, output)

    def lines(self, manifest: Manifest) -> list[str]:
        details = manifest.details
        lines = [f"  cpu       computes in {details['cpu_inference_precision']} on this CPU"]
        lines += calibration_lines(details)
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
    fp16_details: dict[str, Any] = {}
    if precision == "fp16":
        model, fp16_details = _fp16_ir(model, graph, request, network)
    runtime_options = dict(PINNED_F32) if precision in ("fp32", "int8") else {}
    details: dict[str, Any] = {}
    details.update(fp16_details)
    held_out = None
    if precision == "int8":
        model, details, held_out = quantize_int8(model, request, network)
    compiled = _compile(model, runtime_options)
    used = precision_name(compiled)
    details["cpu_inference_precision"] = used
    return OpenVinoProduct(runtime=f"openvino CPU, inference precision {used}",
                           versions=("openvino", "nncf", "onnx"), details=details, held_out=held_out,
                           opset=DEFAULT_OPSET, runtime_options=runtime_options, precision=precision,
                           gates=budget_gates(details, held_out), model=model, compiled=compiled)
