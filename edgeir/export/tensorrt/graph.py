"""TRT-ready FP16 ONNX (``trt-fp16``): the precision TensorRT should run, in the graph.

TensorRT 11 builds every network strongly typed (no FP16 builder flag), so the graph itself
must say FP16. NVIDIA ModelOpt's AutoCast, the tool NVIDIA recommends for it, converts the
graph after a reference run on real frames, keeping in FP32 what ``onnx-fp16`` keeps
(means and normalisation) and the residual add of the input image. The INT8 graph is made
by ``edgeir.calib.modelopt_int8``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.calib.modelopt_int8 import exact_names, modelopt_failed, modelopt_logging
from edgeir.export.graph import FP16_KEEP_OPS as FP32_OP_TYPES
from edgeir.export.graph import residual_adds
from edgeir.quiet import quietly

log = logging.getLogger("edgeir")


def fp16_graph(model: Any, frames: np.ndarray) -> tuple[Any, dict[str, Any]]:
    """(FP16 ModelProto with FP32 inputs/outputs, what was kept in FP32); ``frames`` feed
    AutoCast's reference run, which keeps in FP32 any node whose values overflow FP16."""
    import onnx

    configure_logging = modelopt_logging()
    from modelopt.onnx.autocast import convert_to_mixed_precision

    residual = residual_adds(model)
    log.info("converting to FP16 with ModelOpt AutoCast (FP32 kept for %s and %s)",
             ", ".join(FP32_OP_TYPES), ", ".join(residual))
    with tempfile.TemporaryDirectory(prefix="edgeir-trt-") as tmp:
        source, reference = Path(tmp) / "fp32.onnx", Path(tmp) / "reference.npz"
        onnx.save(model, str(source))
        np.savez(reference, **{model.graph.input[0].name: frames})
        with quietly("modelopt"):
            configure_logging(logging.DEBUG if log.getEffectiveLevel() <= logging.DEBUG else logging.ERROR)
            try:
                converted = convert_to_mixed_precision(
                    str(source), "fp16", keep_io_types=True, calibration_data=str(reference),
                    op_types_to_exclude=list(FP32_OP_TYPES), nodes_to_exclude=exact_names(residual),
                    providers=["cpu"],
                )
            except Exception as exc:  # ModelOpt raises bare Exceptions and ORT errors alike
                raise modelopt_failed("convert the graph to FP16", exc) from exc
    onnx.checker.check_model(converted, full_check=True)
    return converted, {
        "tool": "NVIDIA ModelOpt AutoCast",
        "fp32_op_types": list(FP32_OP_TYPES),
        "fp32_nodes": residual,
        "fp32_node_count": count_fp32_compute(converted),
    }


def fp32_compute_nodes(model: Any) -> list[tuple[str, str]]:
    """(op type, name) of the compute nodes whose output the graph types FP32: what will
    run in FP32 on TensorRT 11. Casts, constants and shape ops are left out."""
    import onnx
    from onnx import TensorProto

    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    types = {v.name: v.type.tensor_type.elem_type for v in
             [*inferred.graph.value_info, *inferred.graph.output]}
    skipped = {"Cast", "Constant", "Shape", "QuantizeLinear", "DequantizeLinear"}
    return [(n.op_type, n.name) for n in inferred.graph.node
            if n.op_type not in skipped and n.output and types.get(n.output[0]) == TensorProto.FLOAT]


def count_fp32_compute(model: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op_type, _ in fp32_compute_nodes(model):
        counts[op_type] = counts.get(op_type, 0) + 1
    return dict(sorted(counts.items()))
