"""ONNX targets (``onnx``, ``onnx-fp16``, ``onnx-int8``): the traced graph as it is, with
FP16 weights and activations, or quantized to Q/DQ INT8 by ONNX Runtime's quantizer."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.export.calibration import budget_gates, calibration_lines
from edgeir.export.graph import (
    FP16_KEEP_OPS,
    ONNX_TARGETS_OPSET,
    OPSETS,
    embed_manifest,
    residual_adds,
    run_onnx,
    runner,
    save_onnx,
    session,
    trace,
)
from edgeir.export.parity import compare, held_out_agreement
from edgeir.export.pipeline import Network, Product
from edgeir.export.request import ExportRequest
from edgeir.manifest import Manifest
from edgeir.models import INPUT_NAME

log = logging.getLogger("edgeir")

FP16_NOTE = (
    "measured on ONNX Runtime CPU, which runs most FP16 ops in FP32 after casting: this "
    "reflects weight and boundary rounding, not FP16 arithmetic on a GPU"
)


def _repair(model: Any) -> Any:
    """onnxruntime's FP16 converter emits the same Cast twice when one tensor feeds two
    blocked nodes, and appends the input casts after their consumers. Keep the first of
    identical nodes and restore topological order, which the ONNX spec requires."""
    seen: set[bytes] = set()
    pending = []
    for node in model.graph.node:
        key = node.SerializeToString()
        if key not in seen:
            seen.add(key)
            pending.append(node)
    ready = {i.name for i in model.graph.input} | {i.name for i in model.graph.initializer}
    ready.add("")  # an omitted optional input
    ordered = []
    while pending:
        waiting = []
        for node in pending:
            if all(name in ready for name in node.input):
                ordered.append(node)
                ready.update(node.output)
            else:
                waiting.append(node)
        if len(waiting) == len(pending):
            raise RuntimeError(f"FP16 graph has a cycle or a dangling input at {waiting[0].name}")
        pending = waiting
    del model.graph.node[:]
    model.graph.node.extend(ordered)
    return model


def _skip_fp16_round_trips(model: Any) -> Any:
    """onnxruntime's FP16 converter casts every output of a blocked (FP32) node to FP16 and
    back for the next blocked node: a tensor kept in FP32 because it would overflow FP16
    would still overflow between two kept nodes. A Cast to FP32 of a Cast to FP16 is read
    from the FP32 tensor directly; the Cast to FP16 stays where FP16 nodes read it."""
    from onnx import TensorProto

    def to(node: Any) -> int | None:
        return next((a.i for a in node.attribute if a.name == "to"), None) if node.op_type == "Cast" else None

    made_by = {out: node for node in model.graph.node for out in node.output}
    outputs = {o.name for o in model.graph.output}
    renamed: dict[str, str] = {}
    dropped = set()
    for node in model.graph.node:
        source = made_by.get(node.input[0]) if node.input else None
        if to(node) == TensorProto.FLOAT and source is not None and to(source) == TensorProto.FLOAT16 \
                and node.output[0] not in outputs:
            renamed[node.output[0]] = source.input[0]
            dropped.add(id(node))
    kept = [node for node in model.graph.node if id(node) not in dropped]
    for node in kept:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
    read = {name for node in kept for name in node.input} | outputs
    kept = [node for node in kept if to(node) != TensorProto.FLOAT16 or node.output[0] in read]
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model


def to_fp16(model: Any, frames: Iterable[np.ndarray]) -> tuple[Any, dict[str, Any]]:
    """FP16 weights and activations with FP32 inputs/outputs; ``FP16_KEEP_OPS``, the
    residual add of the input image, and every node whose tensors come near FP16's limit
    on ``frames`` (``fp16_range``) stay FP32, so the restored image keeps the input's
    precision where the network changes little and no activation overflows."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    from edgeir.export.fp16_range import check_range

    residual = residual_adds(model)
    ranges = check_range(model, frames)
    kept = residual + [name for name in ranges.kept_nodes if name not in residual]
    log.info("converting to FP16 (FP32 kept for %s and %d node(s))", ", ".join(FP16_KEEP_OPS), len(kept))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = convert_float_to_float16(
            model, keep_io_types=True, op_block_list=list(FP16_KEEP_OPS), node_block_list=kept
        )
    converted = _skip_fp16_round_trips(_repair(converted))
    onnx.checker.check_model(converted, full_check=True)
    return converted, {"fp32_op_types": list(FP16_KEEP_OPS), "fp32_nodes": kept, "fp16_range": ranges.record()}


def range_frames(request: ExportRequest, network: Network) -> Iterable[np.ndarray]:
    """Batches of synthetic calibration frames at the export size, for the FP16 range check."""
    from edgeir.calib.sources import open_calibration
    from edgeir.export.calibration import DEFAULT_SOURCE
    from edgeir.export.fp16_range import FRAMES

    count = max(FRAMES, network.batch)
    return open_calibration(DEFAULT_SOURCE, network.size, count, task=request.task).batches(network.batch, whole=True)


def check_options(request: ExportRequest) -> None:
    opset = request.options["opset"]
    if opset is not None and opset not in OPSETS:
        raise EdgeIRError(f"expected --opset between {OPSETS[0]} and {OPSETS[-1]}, found {opset}")
    if request.target.precision == "int8":
        from edgeir.export.sensitive import check_module_names

        check_module_names(request, "ONNX")


@dataclass
class OnnxProduct(Product):
    graph: Any = None
    fp32_graph: Any = None
    label: str = ""

    def run(self, x: np.ndarray) -> np.ndarray:
        return run_onnx(self.graph, x)

    def measure(self, x: np.ndarray, expected: np.ndarray, output: np.ndarray) -> None:
        if self.precision == "fp16":
            self.details["psnr_vs_fp32_graph_db"] = compare(run_onnx(self.fp32_graph, x), output)["psnr_db"]

    def embed(self, manifest: Manifest) -> None:
        embed_manifest(self.graph, manifest)
        self.graph.producer_name, self.graph.doc_string = "edgeir", f"{self.label}, {manifest.target}"

    def save(self, path: Path) -> None:
        save_onnx(self.graph, path)

    def lines(self, manifest: Manifest) -> list[str]:
        return calibration_lines(manifest.details)


def to_int8(model: Any, request: ExportRequest, network: Network) -> tuple[Any, dict[str, Any], Any]:
    """(Q/DQ INT8 graph calibrated on ``--calib`` frames at the export size, what was done,
    the held-out frames on which it was measured against the FP32 graph); with
    ``--max-psnr-drop``, the most sensitive convolutions back in FP32 until the drop is
    within it."""
    from edgeir.calib.onnx_int8 import get_scheme, quantize
    from edgeir.export.calibration import calibration_frames, describe
    from edgeir.export.sensitive import keep_fp32

    options, batch = request.options, network.batch
    fit, held_out = calibration_frames(request, network.size, batch)
    budget = options["max_psnr_drop"]
    if budget is not None:
        from edgeir.calib.budget import check_sharp

        check_sharp(held_out)
    # No default: quantizing the sensitive block costs ONNX Runtime's Conv-only INT8 no PSNR
    # (docs/benchmarks.md).
    keep = keep_fp32(options["keep_fp32"], default=())
    quantized, details = quantize(model, fit, options["int8_scheme"], options["calib_method"], keep, batch=batch)
    if budget is not None:
        from edgeir.calib.steer import within_budget

        steered = within_budget(quantized, model, fit, held_out, batch, budget,
                                get_scheme(options["int8_scheme"]).float_readers, runner, runner, "FP32")
        quantized = steered.graph
        details.update(steered.record)
    fp32_session, int8_session = session(model), session(quantized)
    details["calibration"] = describe(fit, held_out)
    details.update(held_out_agreement(lambda b: fp32_session.run(None, {INPUT_NAME: b})[0],
                                      lambda b: int8_session.run(None, {INPUT_NAME: b})[0],
                                      held_out, batch))
    log.info("INT8 vs FP32 graph on %d held-out frames: %.2f dB", len(held_out), details["psnr_vs_fp32_graph_db"])
    return quantized, details, held_out


def make(request: ExportRequest, network: Network) -> OnnxProduct:
    opset = request.options["opset"] or ONNX_TARGETS_OPSET
    fp32_graph = trace(network.rewrite, request.shapes, opset)
    graph, details, held_out = fp32_graph, {}, None
    precision = request.target.precision
    if precision == "fp16":
        graph, details = to_fp16(fp32_graph, range_frames(request, network))
        details["note"] = FP16_NOTE
    elif precision == "int8":
        graph, details, held_out = to_int8(fp32_graph, request, network)
    return OnnxProduct(runtime="onnxruntime CPUExecutionProvider", versions=("onnx", "onnxruntime", "onnxslim"),
                       details=details, held_out=held_out, opset=opset, precision=precision,
                       gates=budget_gates(details, held_out), graph=graph, fp32_graph=fp32_graph,
                       label=network.rewrite.label)
