"""TRT-ready FP16 ONNX (``trt-fp16``): the precision TensorRT should run, in the graph.

TensorRT 11 builds every network strongly typed (no FP16 builder flag), so the graph itself
must say FP16. NVIDIA ModelOpt's AutoCast, the tool NVIDIA recommends for it, converts the
graph, keeping in FP32 what ``onnx-fp16`` keeps (means and normalisation), the residual add
of the input image, the layers whose activations come near FP16's limit
(``edgeir.export.fp16_range``, the check every FP16 target runs) and those over AutoCast's
own ``data_max``. Both rules are applied to the peaks the range check measured in the
graph: AutoCast's reference runner would instead keep every activation of every frame in
memory (out of 24 GB at 384x640, docs/benchmarks.md). The INT8 graph is made by
``edgeir.calib.modelopt_int8``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.calib.modelopt_int8 import exact_names, modelopt_failed, modelopt_logging
from edgeir.errors import EdgeIRError
from edgeir.export.graph import FP16_KEEP_OPS as FP32_OP_TYPES
from edgeir.export.graph import residual_adds
from edgeir.quiet import quietly

log = logging.getLogger("edgeir")

AUTOCAST_NOTE = ("kept in FP32 by ModelOpt AutoCast (named in its node exclusion); the TRT-ready graph "
                 "types them FP32")


def _batches(model: Any, frames: np.ndarray) -> list[np.ndarray]:
    """``frames`` in the batches the graph takes: its fixed batch size, or all at once."""
    fixed = model.graph.input[0].type.tensor_type.shape.dim[0].dim_value
    step = fixed if fixed > 0 else len(frames)
    return [frames[i:i + step] for i in range(0, len(frames) - step + 1, step)]


def fp16_graph(model: Any, frames: np.ndarray) -> tuple[Any, dict[str, Any]]:
    """(FP16 ModelProto with FP32 inputs/outputs, what was kept in FP32); ``frames`` feed
    the FP16 range check (``edgeir.export.fp16_range``), whose peaks also decide AutoCast's
    ``data_max`` rule. The
    nodes the range check keeps are excluded by name, so they stay FP32 whatever AutoCast's
    own rule decides, and the converted graph is checked for it."""
    import onnx

    from edgeir.export.fp16_range import check_range, graph_nodes, ranges_of

    configure_logging = modelopt_logging()
    from modelopt.onnx.autocast import convert_to_mixed_precision
    from modelopt.onnx.autocast.convert import DEFAULT_DATA_MAX

    residual = residual_adds(model)
    ranges = check_range(model, _batches(model, frames))
    over_data_max = ranges_of(ranges.peaks, graph_nodes(model), DEFAULT_DATA_MAX).kept_nodes
    kept = list(dict.fromkeys(residual + ranges.kept_nodes + over_data_max))
    log.info("converting to FP16 with ModelOpt AutoCast (FP32 kept for %s and %d node(s))",
             ", ".join(FP32_OP_TYPES), len(kept))
    with tempfile.TemporaryDirectory(prefix="edgeir-trt-") as tmp:
        source = Path(tmp) / "fp32.onnx"
        onnx.save(model, str(source))
        with quietly("modelopt"):
            configure_logging(logging.DEBUG if log.getEffectiveLevel() <= logging.DEBUG else logging.ERROR)
            try:
                # data_max=inf: its rule is applied above to the measured peaks, and AutoCast
                # then needs no reference run
                converted = convert_to_mixed_precision(
                    str(source), "fp16", keep_io_types=True, data_max=np.inf,
                    op_types_to_exclude=list(FP32_OP_TYPES), nodes_to_exclude=exact_names(kept),
                    providers=["cpu"],
                )
            except Exception as exc:  # ModelOpt raises bare Exceptions and ORT errors alike
                raise modelopt_failed("convert the graph to FP16", exc) from exc
    onnx.checker.check_model(converted, full_check=True)
    left = not_fp32(converted, ranges.kept_nodes)
    if left:
        raise EdgeIRError(f"expected ModelOpt AutoCast to keep the {len(ranges.kept_nodes)} node(s) the FP16 range "
                          f"check names in FP32, found {len(left)} not: {ranges.describe(left)}; nothing was written")
    return converted, {
        "tool": "NVIDIA ModelOpt AutoCast",
        "fp32_op_types": list(FP32_OP_TYPES),
        "fp32_nodes": kept,
        "fp32_over_data_max": {"data_max": DEFAULT_DATA_MAX, "nodes": over_data_max},
        "fp32_node_count": count_fp32_compute(converted),
        "fp16_range": ranges.record(AUTOCAST_NOTE),
    }


def not_fp32(model: Any, names: list[str]) -> list[str]:
    """Of the nodes ``names``, those that are missing from ``model`` or read or write a
    tensor it types FP16."""
    import onnx
    from onnx import TensorProto

    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    types = {v.name: v.type.tensor_type.elem_type for v in
             [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]}
    types.update({t.name: t.data_type for t in inferred.graph.initializer})
    nodes = {n.name: n for n in inferred.graph.node}
    return [name for name in names if name not in nodes
            or any(types.get(t) == TensorProto.FLOAT16 for t in [*nodes[name].input, *nodes[name].output])]


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
