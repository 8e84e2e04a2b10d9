"""Whether a checkpoint's activations fit FP16, tensor by tensor, before an FP16 graph is
made of it.

FP16 holds magnitudes up to 65504; a tensor beyond it becomes infinity and the frame is
lost (NAFNet's LayerNorm on TensorRT is the classic case). The FP32 graph is run on
calibration frames with the peak |value| of every float tensor added as an output (Abs and
ReduceMax inside the graph, so no feature map is kept), and every tensor whose peak comes
within ``HEADROOM`` of the limit is computed in FP32: the node that makes it and the nodes
that read it (a cast to FP16 on the way in would overflow as well).

Every FP16 target runs this one check on the traced FP32 graph, gives the same warning and
records the same ``fp16_range``; each keeps the nodes in its own way: ``onnx-fp16`` in the
FP16 converter's block list, ``trt-fp16`` in ModelOpt AutoCast's node exclusion,
``openvino-fp16`` as ops marked FP32 in the IR, ``coreml`` through the FP16 op selector of
coremltools (or the export is refused where Core ML's ops cannot be matched to them).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeir.models import INPUT_NAME

log = logging.getLogger("edgeir")

FP16_MAX = 65504.0
HEADROOM = 4.0
"""Peaks must stay below FP16_MAX / HEADROOM: calibration frames are a sample of what the
camera sees, and the sums inside a convolution run higher than its output."""
BOUND = FP16_MAX / HEADROOM
FRAMES = 4
"""Calibration frames the peaks are measured on (the synthetic ``calib`` split by default)."""
PEAK_PREFIX = "edgeir_peak/"
LISTED = 8
"""Layers named in the warning; the manifest's ``fp16_range`` lists them all."""
DEFAULT_NOTE = "the nodes listed stay in FP32 in the FP16 graph"


@dataclass
class RangeCheck:
    peaks: dict[str, float]
    """Peak |value| of every float tensor, by tensor name."""
    kept_nodes: list[str]
    """Nodes to compute in FP32: the makers and the readers of the tensors over the bound."""
    over: dict[str, float]
    """The tensors over the bound, with their peaks."""
    node_peaks: dict[str, float] = field(default_factory=dict)
    """Each kept node's largest over-bound tensor (read or made), for the warning."""
    makers: list[str] = field(default_factory=list)
    """The kept nodes that make an over-bound tensor (the others only read one)."""
    bound: float = BOUND

    def record(self, note: str = DEFAULT_NOTE) -> dict[str, Any]:
        """The manifest's ``fp16_range``, the same keys for every FP16 target; ``note`` says
        how the target keeps the listed nodes in FP32."""
        top = max(self.peaks.items(), key=lambda kv: kv[1]) if self.peaks else ("", 0.0)
        return {"limit": FP16_MAX, "headroom": HEADROOM, "peak": round(float(top[1]), 3),
                "peak_tensor": top[0], "over": {k: round(v, 1) for k, v in self.over.items()},
                "kept_fp32_nodes": self.kept_nodes, "note": note}

    def describe(self, nodes: Iterable[str] | None = None) -> str:
        """``name (peak P), ...`` for ``nodes`` (default: the kept ones), the first ``LISTED``."""
        names = list(self.kept_nodes if nodes is None else nodes)
        listed = ", ".join(f"{n} (peak {self.node_peaks.get(n, float('nan')):.4g})" for n in names[:LISTED])
        more = f" and {len(names) - LISTED} more" if len(names) > LISTED else ""
        return listed + more

    def warning(self) -> str:
        """The one warning every FP16 target gives when layers are kept in FP32."""
        return (f"{len(self.kept_nodes)} layer(s) reach |x| >= {self.bound:g} on the calibration frames "
                f"(FP16 holds {FP16_MAX:g}, headroom {HEADROOM:g}) and stay in FP32: {self.describe()}")


def warn(ranges: RangeCheck) -> None:
    if ranges.over:
        log.warning("%s", ranges.warning())


def _float_tensors(model: Any) -> list[str]:
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    floats = {v.name for v in list(inferred.graph.value_info) + list(inferred.graph.output)
              if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT}
    weights = {t.name for t in model.graph.initializer}
    return [out for node in model.graph.node for out in node.output
            if out in floats and out not in weights and node.op_type != "Constant"]


def with_peaks(model: Any) -> tuple[Any, list[str]]:
    """A copy of ``model`` that also outputs the peak |value| of every float tensor."""
    import onnx
    from onnx import helper

    tensors = _float_tensors(model)
    probed = onnx.ModelProto()
    probed.CopyFrom(model)
    wanted, nodes = set(tensors), []
    for node in model.graph.node:
        nodes.append(node)
        for name in (out for out in node.output if out in wanted):
            # right after the node that makes the tensor, so that an execution order that
            # follows the graph's frees each feature map once its probe has read it
            absolute, peak = f"{PEAK_PREFIX}abs/{name}", f"{PEAK_PREFIX}{name}"
            nodes += [helper.make_node("Abs", [name], [absolute]),
                      helper.make_node("ReduceMax", [absolute], [peak], keepdims=0)]
    del probed.graph.node[:]
    probed.graph.node.extend(nodes)
    probed.graph.output.extend(helper.make_tensor_value_info(f"{PEAK_PREFIX}{name}", onnx.TensorProto.FLOAT, [])
                               for name in tensors)
    return probed, tensors


def tensor_peaks(model: Any, batches: Iterable[np.ndarray]) -> dict[str, float]:
    from edgeir.export.graph import session

    probed, tensors = with_peaks(model)
    runner = session(probed)
    names = [f"{PEAK_PREFIX}{t}" for t in tensors]
    peaks = dict.fromkeys(tensors, 0.0)
    for batch in batches:
        for tensor, value in zip(tensors, runner.run(names, {INPUT_NAME: batch})):
            value = float(value)
            peaks[tensor] = max(peaks[tensor], value) if np.isfinite(value) else float("inf")
    return peaks


def graph_nodes(model: Any) -> list[tuple[str, list[str], list[str]]]:
    """(name, inputs, outputs) of every node of an ONNX ModelProto, in order."""
    return [(node.name, list(node.input), list(node.output)) for node in model.graph.node]


def check_range(model: Any, batches: Iterable[np.ndarray], warn_now: bool = True) -> RangeCheck:
    """The range check of ``model`` (an FP32 ModelProto) on ``batches``; with ``warn_now``
    the kept layers are logged here (a target that may refuse them instead warns itself)."""
    ranges = ranges_of(tensor_peaks(model, batches), graph_nodes(model))
    if warn_now:
        warn(ranges)
    return ranges


def ranges_of(peaks: dict[str, float], nodes: Iterable[tuple[str, list[str], list[str]]],
              bound: float = BOUND) -> RangeCheck:
    """The range check from measured ``peaks``, for any graph given as (node name, inputs,
    outputs) in order: the one rule of which nodes stay FP32, whichever runtime measured.
    ``bound`` is FP16's with headroom; a converter with a stricter rule of its own (AutoCast's
    ``data_max``) applies it to the same peaks."""
    over = {name: peak for name, peak in peaks.items() if not peak < bound}
    kept, node_peaks, makers = [], {}, []
    for name, inputs, outputs in nodes:
        touched = [over[t] for t in outputs + inputs if t in over]
        if touched:
            kept.append(name)
            node_peaks[name] = max(touched)
            if any(t in over for t in outputs):
                makers.append(name)
    return RangeCheck(peaks, kept, over, node_peaks, makers, bound)
