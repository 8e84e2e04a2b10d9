"""Q/DQ INT8 ONNX with ONNX Runtime's static quantizer, in two schemes from one code path.

``cpu``: uint8 asymmetric activations, int8 symmetric per-channel weights, which ONNX
Runtime's x86 kernels fuse into fast QLinearConv. ``trt``: int8 symmetric activations and
weights with every zero point 0, the only form TensorRT's explicit quantization accepts
(on ONNX Runtime's CPU kernels it runs no faster than FP32).

Only ``Conv`` nodes are quantized: convolutions hold most of the time on ONNX Runtime, and
quantizing every supported op type as well ran no faster and lost several dB against the
FP32 graph (docs/benchmarks.md). ONNX Runtime's quantizer was chosen over NVIDIA
ModelOpt's for this target because ModelOpt's ONNX extra pulls onnxruntime-gpu, which
collides with the CPU package (the ``tensorrt`` extra installs ModelOpt without it).
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeir.calib.sources import CalibrationSet
from edgeir.errors import EdgeIRError

log = logging.getLogger("edgeir")

QUANTIZED_OP_TYPES = ("Conv",)
METHODS = ("minmax", "entropy", "percentile")


@dataclass(frozen=True)
class Scheme:
    name: str
    activations: str
    """``uint8`` or ``int8``."""
    symmetric_activations: bool
    quantize_bias: bool
    """int32 bias Q/DQ: ONNX Runtime fuses it into QLinearConv; TensorRT's parser takes no
    int32 DequantizeLinear, so the ``trt`` scheme leaves biases in float."""
    float_readers: bool
    """Ops beside the quantized convolutions read float tensors, not the rounded ones
    (``edgeir.calib.qdq``): free on ONNX Runtime's CPU; TensorRT fuses a quantized residual."""
    summary: str


SCHEMES = {
    s.name: s
    for s in (
        Scheme("cpu", "uint8", False, True, True, "uint8 asymmetric activations, int8 symmetric per-channel "
               "weights (fastest on ONNX Runtime's x86 kernels)"),
        Scheme("trt", "int8", True, False, False, "int8 symmetric activations and per-channel weights, "
               "every zero point 0, float biases (TensorRT explicit quantization)"),
    )
}


def get_scheme(name: str) -> Scheme:
    if name not in SCHEMES:
        raise EdgeIRError(f"expected --int8-scheme {' or '.join(SCHEMES)}, found {name!r}")
    return SCHEMES[name]


def check_method(name: str) -> str:
    if name not in METHODS:
        raise EdgeIRError(f"expected --calib-method {', '.join(METHODS)}, found {name!r}")
    return name


def excluded_nodes(model: Any, keep_fp32: Sequence[str]) -> list[str]:
    """Node names that ``--keep-fp32`` names: a node name, a scope (every node whose name
    starts with it followed by ``/``, e.g. ``/Decoder.2``) or an op type."""
    names = [n.name for n in model.graph.node]
    op_types = {n.op_type for n in model.graph.node}
    chosen: list[str] = []
    for item in keep_fp32:
        if item in op_types:
            found = [n.name for n in model.graph.node if n.op_type == item]
        else:
            scope = item.rstrip("/") + "/"
            found = [n for n in names if n == item or n.startswith(scope)]
        if not found:
            raise EdgeIRError(
                f"expected --keep-fp32 to name a node, a scope or an op type of the graph, "
                f"found {item!r} in none (nodes look like {names[0]!r})"
            )
        chosen.extend(n for n in found if n not in chosen)
    quantizable = [n.name for n in model.graph.node if n.op_type in QUANTIZED_OP_TYPES]
    if not quantizable or set(quantizable) <= set(chosen):
        raise EdgeIRError("expected --keep-fp32 to leave some Conv nodes to quantize, found it keeps all")
    return chosen


class _Reader:
    """ONNX Runtime's ``CalibrationDataReader`` over a calibration set, with progress."""

    def __init__(self, frames: CalibrationSet, batch: int, input_name: str, advance: Any) -> None:
        self._batches: Iterator[Any] = frames.batches(batch, whole=True)
        self._input = input_name
        self._advance = advance

    def get_next(self) -> dict[str, Any] | None:
        batch = next(self._batches, None)
        if batch is None:
            return None
        self._advance(len(batch))
        return {self._input: batch}


def quantize(
    model: Any, frames: CalibrationSet, scheme: str = "cpu", method: str = "minmax",
    keep_fp32: Sequence[str] = (), batch: int = 1, progress: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """(Q/DQ ModelProto, what was done) for an FP32 ModelProto, calibrated on ``frames``
    fed ``batch`` at a time (the batch of a static graph)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from edgeir.progress import progress_bar

    chosen = get_scheme(scheme)
    check_method(method)
    excluded = excluded_nodes(model, keep_fp32)
    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    reader_type = type("EdgeIRReader", (_Reader, CalibrationDataReader), {})
    with tempfile.TemporaryDirectory(prefix="edgeir-int8-") as tmp:
        fp32, prepared, quantized = (Path(tmp) / n for n in ("fp32.onnx", "pre.onnx", "int8.onnx"))
        onnx.save(model, str(fp32))
        # Folds and infers shapes so the quantizer sees every tensor's type.
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
        bar = progress_bar("frames")
        bar.disable = not progress
        log.info("calibrating INT8 (%s scheme, %s) on %d frames", scheme, method, len(frames))
        with bar, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            task = bar.add_task(f"calibrating ({method})", total=len(frames))
            quantize_static(
                str(prepared), str(quantized),
                reader_type(frames, batch, model.graph.input[0].name,
                            lambda n: bar.advance(task, n)),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QInt8 if chosen.activations == "int8" else QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                per_channel=True,
                calibrate_method=methods[method],
                op_types_to_quantize=list(QUANTIZED_OP_TYPES),
                nodes_to_exclude=excluded,
                extra_options={"ActivationSymmetric": chosen.symmetric_activations,
                               "WeightSymmetric": True, "QuantizeBias": chosen.quantize_bias},
            )
        result = onnx.load(str(quantized))
    if chosen.float_readers:
        from edgeir.calib.qdq import restore

        result = restore(result, model, [], float_readers=True)
    details = {
        "quantizer": "onnxruntime.quantization.quantize_static (QDQ)",
        "scheme": chosen.name,
        "scheme_summary": chosen.summary,
        "calibration_method": method,
        "quantized_op_types": list(QUANTIZED_OP_TYPES),
        "kept_fp32": list(keep_fp32),
        "kept_fp32_nodes": len(excluded),
        "float_readers": chosen.float_readers,
    }
    return result, details
