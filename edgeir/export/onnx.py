"""ONNX export (``onnx``, ``onnx-fp16``, ``onnx-int8``): trace the rewrite, simplify, check,
convert or quantize, verify.

The TorchScript exporter (``dynamo=False``) is used on purpose: on the rewrite it gives
a graph with dynamic height/width and no size arithmetic, where the dynamo exporter
turns upstream's unfolds into Gather ops (DESIGN.md). The simplifier is onnxslim (see
README): it folds the constant pad-size subgraphs the exporter leaves behind.
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any

import numpy as np
import torch

from edgeir.calib.sources import CalibrationSet
from edgeir.errors import EdgeIRError
from edgeir.export.parity import compare, held_out_agreement, parity_input
from edgeir.export.request import ExportRequest, ExportResult, versions
from edgeir.fileio import atomic_path, sha256_of
from edgeir.manifest import manifest_path
from edgeir.models import INPUT_NAME, OUTPUT_NAMES, exportable
from edgeir.shapes import InputShapes

log = logging.getLogger("edgeir")

DEFAULT_OPSET = 17
OPSETS = range(14, 21)
OUTPUT_NAME = OUTPUT_NAMES[-1]

FP32_MAX_ABS = 1e-3
FP16_MIN_PSNR = 40.0
INT8_MIN_PSNR = 30.0
"""Parity an export must reach to be written (measured for S: 1e-7, 76 dB, and for INT8
on the demo weights see docs/benchmarks.md). The INT8 floor catches a broken
calibration, not a small loss: the benchmark reports the PSNR drop."""

FP16_KEEP_OPS = ("InstanceNormalization", "ReduceMean", "GlobalAveragePool")
"""Kept in FP32 in ``onnx-fp16``: normalisation statistics and means lose precision in
FP16 (sums over whole feature maps)."""

FP16_NOTE = (
    "measured on ONNX Runtime CPU, which runs most FP16 ops in FP32 after casting: this "
    "reflects weight and boundary rounding, not FP16 arithmetic on a GPU"
)


def trace(module: torch.nn.Module, shapes: InputShapes, opset: int) -> Any:
    """The rewrite as a simplified, checked ONNX ModelProto."""
    import onnx
    import onnxslim

    batch = shapes.max_batch if shapes.static else 1
    example = torch.rand(batch, 3, *(shapes.opt if shapes.static else shapes.min))
    axes = None if shapes.static else {0: "batch", 2: "height", 3: "width"}
    buffer = io.BytesIO()
    log.info("tracing the export rewrite to ONNX (opset %d, %s)", opset, shapes.describe())
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (example,), buffer, dynamo=False, opset_version=opset,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes=None if axes is None else {INPUT_NAME: axes, OUTPUT_NAME: axes},
        )
    log.info("simplifying the graph with onnxslim")
    model = onnxslim.slim(onnx.load_from_string(buffer.getvalue()))
    onnx.checker.check_model(model, full_check=True)
    return model


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


def residual_adds(model: Any) -> list[str]:
    """The Add nodes that add the input image to the network's residual: kept in FP32 by
    the FP16 graphs, so the restored image keeps the input's precision where the network
    changes little."""
    graph_input = model.graph.input[0].name
    return [n.name for n in model.graph.node if n.op_type == "Add" and graph_input in n.input]


def to_fp16(model: Any) -> tuple[Any, dict[str, Any]]:
    """FP16 weights and activations with FP32 inputs/outputs; ``FP16_KEEP_OPS`` and the
    residual add of the input image stay FP32, so the restored image keeps the input's
    precision where the network changes little."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    residual = residual_adds(model)
    log.info("converting to FP16 (FP32 kept for %s and %s)", ", ".join(FP16_KEEP_OPS), residual)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = convert_float_to_float16(
            model, keep_io_types=True, op_block_list=list(FP16_KEEP_OPS), node_block_list=residual
        )
    converted = _repair(converted)
    onnx.checker.check_model(converted, full_check=True)
    return converted, {"fp32_op_types": list(FP16_KEEP_OPS), "fp32_nodes": residual}


def to_int8(
    model: Any, request: ExportRequest, size: tuple[int, int], batch: int
) -> tuple[Any, dict[str, Any], CalibrationSet]:
    """(Q/DQ INT8 graph calibrated on ``--calib`` frames at the export size, what was done,
    the held-out frames on which it was measured against the FP32 graph)."""
    from edgeir.calib.onnx_int8 import check_method, get_scheme, quantize
    from edgeir.export.calibration import calibration_frames, describe
    from edgeir.export.sensitive import keep_fp32

    options = request.options
    scheme = get_scheme(options.get("int8_scheme") or "cpu")
    method = check_method(options.get("calib_method") or "minmax")
    fit, held_out = calibration_frames(request, size, batch)
    # No default: quantizing the sensitive block costs ONNX Runtime's Conv-only INT8 no PSNR
    # (measured, docs/benchmarks.md).
    keep = keep_fp32(options.get("keep_fp32"), default=())
    quantized, details = quantize(model, fit, scheme.name, method, keep, batch=batch)
    fp32_session, int8_session = session(model), session(quantized)
    details["calibration"] = describe(fit, held_out)
    details.update(held_out_agreement(lambda b: fp32_session.run(None, {INPUT_NAME: b})[0],
                                      lambda b: int8_session.run(None, {INPUT_NAME: b})[0],
                                      held_out, batch))
    log.info("INT8 vs FP32 graph on %d held-out frames: %.2f dB", len(held_out), details["psnr_vs_fp32_graph_db"])
    return quantized, details, held_out


def session(model: Any) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def run_onnx(model: Any, x: np.ndarray) -> np.ndarray:
    return session(model).run(None, {INPUT_NAME: x})[0]


def check_parity(parity: dict[str, Any], details: dict[str, Any], precision: str) -> None:
    """Refuse to write an artifact that does not compute what PyTorch computes."""
    if precision == "fp32" and not parity["max_abs"] <= FP32_MAX_ABS:
        raise EdgeIRError(
            f"parity check failed: expected the ONNX output within {FP32_MAX_ABS} of PyTorch, "
            f"found max abs error {parity['max_abs']:.3g}; nothing was written"
        )
    floor = {"fp16": FP16_MIN_PSNR, "int8": INT8_MIN_PSNR}.get(precision)
    if floor is None:
        return
    for against, psnr in (("the FP32 graph", details["psnr_vs_fp32_graph_db"]), ("PyTorch", parity["psnr_db"])):
        if psnr is not None and not psnr >= floor:
            raise EdgeIRError(
                f"parity check failed: expected the {precision.upper()} graph within {floor} dB "
                f"PSNR of {against}, found {psnr} dB; nothing was written"
                + ("; try --calib with your own frames, --calib-method or --keep-fp32"
                   if precision == "int8" else "")
            )


def export_onnx(request: ExportRequest) -> ExportResult:
    import onnx

    target, shapes = request.target, request.shapes
    opset = request.options.get("opset")
    opset = DEFAULT_OPSET if opset is None else opset
    if opset not in OPSETS:
        raise EdgeIRError(f"expected --opset between {OPSETS[0]} and {OPSETS[-1]}, found {opset}")
    model = request.weights.build(request.variant, request.task)
    rewrite = exportable(model)
    graph = trace(rewrite, shapes, opset)

    batch = shapes.max_batch if shapes.static else 1
    size = shapes.opt if shapes.static else shapes.min
    details: dict[str, Any] = {}
    fp32_graph, held_out = graph, None
    if target.precision == "fp16":
        graph, details = to_fp16(graph)
        details["note"] = FP16_NOTE
    elif target.precision == "int8":
        graph, details, held_out = to_int8(graph, request, size, batch)
    x, described = parity_input(batch, size, held_out)
    log.info("checking parity with PyTorch on %s", described)
    with torch.no_grad():
        reference = rewrite(torch.from_numpy(x)).numpy()
    output = run_onnx(graph, x)
    if target.precision == "fp16":
        details["psnr_vs_fp32_graph_db"] = compare(run_onnx(fp32_graph, x), output)["psnr_db"]
    parity = {
        "reference": "PyTorch export rewrite, FP32",
        "input": described,
        "runtime": "onnxruntime CPUExecutionProvider",
        **compare(reference, output),
    }
    check_parity(parity, details, target.precision)

    manifest = request.manifest(parity=parity, details=details, opset=opset,
                                versions=versions("onnx", "onnxruntime", "onnxslim"))
    for key, value in manifest.metadata().items():
        graph.metadata_props.add(key=key, value=value)
    graph.producer_name, graph.doc_string = "edgeir", f"{rewrite.label}, {target.name}"

    output_path = request.output
    with atomic_path(output_path) as temp:
        onnx.save(graph, str(temp))
        # The manifest goes first, describing the bytes about to be renamed into place, so
        # an interruption never leaves an artifact beside a stale manifest.
        manifest.artifact = {
            "file": output_path.name,
            "sha256": sha256_of(temp),
            "size_bytes": temp.stat().st_size,
        }
        path = manifest.write(manifest_path(output_path))
    log.info("wrote %s and %s", output_path, path.name)
    return ExportResult(output_path, path, manifest)
