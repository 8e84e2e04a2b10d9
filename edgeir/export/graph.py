"""The traced ONNX graph every ONNX-based target starts from, and ONNX Runtime sessions on it.

The TorchScript exporter (``dynamo=False``) is used on purpose: on the rewrite it gives a
graph with dynamic height/width and no size arithmetic, where the dynamo exporter turns
upstream's unfolds into Gather ops (README, "The export-friendly model"). The
simplifier is onnxslim: it folds the constant pad-size subgraphs the exporter leaves behind.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from edgeir.models import INPUT_NAME, OUTPUT_NAMES
from edgeir.shapes import InputShapes

log = logging.getLogger("edgeir")

DEFAULT_OPSET = 17
"""The opset of the graphs OpenVINO and TensorRT targets are made from."""
ONNX_TARGETS_OPSET = 20
"""The onnx targets' default: opset 20 has a Gelu op. In an INT8 graph a convolution's
output then reaches GELU through one DequantizeLinear; the opset-17 decomposition reads it
through two and ONNX Runtime cannot fuse it back (docs/benchmarks.md, issue 23)."""
OPSETS = range(14, 21)
OUTPUT_NAME = OUTPUT_NAMES[-1]

FP16_KEEP_OPS = ("InstanceNormalization", "ReduceMean", "GlobalAveragePool")
"""Kept in FP32 by the FP16 graphs (``onnx-fp16``, ``trt-fp16``): normalisation statistics and means lose precision in
FP16 (sums over whole feature maps)."""


def trace(module: torch.nn.Module, shapes: InputShapes, opset: int = DEFAULT_OPSET) -> Any:
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


def residual_adds(model: Any) -> list[str]:
    """The Add nodes that add the input image to the network's residual: kept in FP32 by
    the FP16 graphs, so the restored image keeps the input's precision where the network
    changes little."""
    graph_input = model.graph.input[0].name
    return [n.name for n in model.graph.node if n.op_type == "Add" and graph_input in n.input]


def session(model: Any, optimize: bool = True) -> Any:
    """A CPU session for an export's checks. Nodes run in ONNX Runtime's priority order: in
    its default order a graph with extra readers of every feature map (the range check's
    peaks) kept them all alive, several GB more at 512x512 (docs/benchmarks.md)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.execution_order = ort.ExecutionOrder.PRIORITY_BASED
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def runner(model: Any, make_session: Callable[[Any], Any] = session) -> Callable[[np.ndarray], np.ndarray]:
    """A function running ``model`` on a batch in one session made once."""
    opened = make_session(model)
    return lambda x: opened.run(None, {INPUT_NAME: x})[0]


def run_onnx(model: Any, x: np.ndarray) -> np.ndarray:
    return session(model).run(None, {INPUT_NAME: x})[0]


def embed_manifest(model: Any, manifest: Any) -> None:
    """The manifest's facts as the graph's metadata, so it describes itself without the sidecar."""
    for key, value in manifest.metadata().items():
        model.metadata_props.add(key=key, value=value)


def save_onnx(model: Any, path: Any) -> None:
    import onnx

    onnx.save(model, str(path))
