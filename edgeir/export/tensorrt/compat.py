"""Will TensorRT's ONNX parser take this graph? Checked without TensorRT.

Engines are built on the device, often long after the export; a graph the parser rejects
should fail here, on the machine that made it, with the node named. The rules come from
the onnx-tensorrt operator matrix (docs/operators.md) and TensorRT's explicit
quantization rules: supported op types only, Q/DQ in int8 with zero points 0, convolution
weights that are constants, constant Slice axes, Resize modes TensorRT implements, and an
optimization profile that the graph's input dimensions allow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edgeir.shapes import InputShapes

SUPPORTED_OPS = frozenset({
    "Abs", "Acos", "Acosh", "Add", "And", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh",
    "AveragePool", "BatchNormalization", "Cast", "Ceil", "Celu", "Clip", "Concat", "Constant",
    "ConstantOfShape", "Conv", "ConvTranspose", "Cos", "Cosh", "CumSum", "DepthToSpace",
    "DequantizeLinear", "Div", "Dropout", "Einsum", "Elu", "Equal", "Erf", "Exp", "Expand",
    "EyeLike", "Flatten", "Floor", "Gather", "GatherElements", "GatherND", "Gelu", "Gemm",
    "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool", "Greater", "GreaterOrEqual",
    "GridSample", "GroupNormalization", "GRU", "HardSigmoid", "HardSwish", "Identity", "If",
    "InstanceNormalization", "IsNaN", "LayerNormalization", "LeakyRelu", "Less", "LessOrEqual",
    "Log", "LogSoftmax", "Loop", "LRN", "LSTM", "LpNormalization", "LpPool", "MatMul", "Max",
    "MaxPool", "Mean", "MeanVarianceNormalization", "Min", "Mod", "Mul", "Neg",
    "NonMaxSuppression", "NonZero", "Not", "OneHot", "Or", "Pad", "Pow", "PRelu",
    "QuantizeLinear", "Range", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum",
    "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum",
    "ReduceSumSquare", "Relu", "Reshape", "Resize", "RoiAlign", "Round", "Scatter",
    "ScatterElements", "ScatterND", "Selu", "Shape", "Shrink", "Sigmoid", "Sign", "Sin", "Sinh",
    "Size", "Slice", "Softmax", "Softplus", "Softsign", "SpaceToDepth", "Split", "Sqrt",
    "Squeeze", "Sub", "Sum", "Tan", "Tanh", "ThresholdedRelu", "Tile", "TopK", "Transpose",
    "Trilu", "Unsqueeze", "Upsample", "Where", "Xor",
})
"""Op types of the default ONNX domain that TensorRT 10's parser imports. Not in it, among
others: Col2Im, ConvInteger, MatMulInteger, QLinearConv, QLinearMatMul,
DynamicQuantizeLinear, DFT, STFT and every sequence op."""

RESIZE_MODES = frozenset({"nearest", "linear"})
RESIZE_TRANSFORMS = frozenset({
    "half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "asymmetric", "align_corners",
})
WEIGHTED_OPS = ("Conv", "ConvTranspose")


@dataclass
class CompatReport:
    """What was checked and every problem found (an empty list: the parser should take it)."""

    problems: list[str] = field(default_factory=list)
    op_types: dict[str, int] = field(default_factory=dict)
    qdq_pairs: int = 0
    checked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "checked": self.checked,
                "quantize_linear_nodes": self.qdq_pairs, "op_types": self.op_types}


def _attribute(node: Any, name: str, default: Any) -> Any:
    import onnx

    for attribute in node.attribute:
        if attribute.name == name:
            value = onnx.helper.get_attribute_value(attribute)
            return value.decode() if isinstance(value, bytes) else value
    return default


def _constants(model: Any) -> dict[str, Any]:
    """Tensors whose values are known before the engine runs: initializers and the
    outputs of Constant nodes."""
    import onnx

    known = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            known[node.output[0]] = onnx.numpy_helper.to_array(node.attribute[0].t)
    return known


def _check_zero_points(model: Any, constants: dict[str, Any], report: CompatReport) -> None:
    for node in model.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        report.qdq_pairs += node.op_type == "QuantizeLinear"
        if len(node.input) < 3 or not node.input[2]:
            if node.op_type == "QuantizeLinear":
                report.problems.append(
                    f"QuantizeLinear {node.name}: without a zero point the output is uint8, which "
                    "TensorRT does not take; expected an int8 zero point of 0"
                )
            continue
        zero_point = constants.get(node.input[2])
        if zero_point is None:
            report.problems.append(f"{node.op_type} {node.name}: its zero point is computed at run time")
        elif zero_point.dtype.name != "int8":
            report.problems.append(
                f"{node.op_type} {node.name}: expected an int8 zero point, found {zero_point.dtype.name}"
            )
        elif zero_point.any():
            report.problems.append(f"{node.op_type} {node.name}: expected zero point 0, found {zero_point.max()}")


PASS_THROUGH = ("DequantizeLinear", "QuantizeLinear", "Cast", "Identity")
"""Ops between a constant weight and its convolution that TensorRT folds at build time
(ModelOpt writes FP weights -> QuantizeLinear -> DequantizeLinear -> Conv)."""


def _check_weights(model: Any, constants: dict[str, Any], report: CompatReport) -> None:
    producers = {o: n for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        if node.op_type not in WEIGHTED_OPS or len(node.input) < 2:
            continue
        weight = node.input[1]
        while weight not in constants and weight in producers and producers[weight].op_type in PASS_THROUGH:
            weight = producers[weight].input[0]
        if weight not in constants:
            report.problems.append(f"{node.op_type} {node.name}: expected constant weights, found a computed tensor")


def _check_attributes(model: Any, constants: dict[str, Any], report: CompatReport) -> None:
    for node in model.graph.node:
        if node.op_type == "Slice" and len(node.input) > 3 and node.input[3] and node.input[3] not in constants:
            report.problems.append(f"Slice {node.name}: expected constant axes")
        elif node.op_type == "Resize":
            mode = _attribute(node, "mode", "nearest")
            transform = _attribute(node, "coordinate_transformation_mode", "half_pixel")
            if mode not in RESIZE_MODES:
                report.problems.append(f"Resize {node.name}: mode {mode} is not supported (expected nearest or linear)")
            if transform not in RESIZE_TRANSFORMS:
                report.problems.append(f"Resize {node.name}: coordinate_transformation_mode {transform} is not supported")
        elif node.op_type == "Pad" and _attribute(node, "mode", "constant") not in ("constant", "reflect", "edge", "wrap"):
            report.problems.append(f"Pad {node.name}: mode {_attribute(node, 'mode', '')} is not supported")


def _check_profile(model: Any, shapes: InputShapes, report: CompatReport) -> None:
    """Every profile size must fit the graph's input: a fixed dimension must equal it."""
    graph_input = model.graph.input[0]
    dims = graph_input.type.tensor_type.shape.dim
    if len(dims) != 4:
        report.problems.append(f"input {graph_input.name}: expected 4 dimensions, found {len(dims)}")
        return
    for label, (batch, h, w) in (("min", (1, *shapes.min)), ("opt", (shapes.max_batch, *shapes.opt)),
                                 ("max", (shapes.max_batch, *shapes.max))):
        if shapes.static:
            batch = shapes.max_batch
        for axis, wanted in ((0, batch), (1, 3), (2, h), (3, w)):
            dim = dims[axis]
            if dim.HasField("dim_value") and dim.dim_value != wanted:
                report.problems.append(
                    f"input {graph_input.name}: the {label} profile shape needs {wanted} on axis "
                    f"{axis}, the graph fixes it to {dim.dim_value}"
                )


def check_graph(model: Any, shapes: InputShapes) -> CompatReport:
    """Check a TRT-ready ModelProto against TensorRT's parser rules and ``shapes``' profile."""
    report = CompatReport()
    counts: dict[str, int] = {}
    for node in model.graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
        if node.domain not in ("", "ai.onnx"):
            report.problems.append(f"{node.op_type} {node.name}: custom domain {node.domain!r} needs a plugin")
        elif node.op_type not in SUPPORTED_OPS:
            report.problems.append(f"{node.op_type} {node.name}: TensorRT's ONNX parser has no importer for it")
    report.op_types = dict(sorted(counts.items()))
    constants = _constants(model)
    _check_zero_points(model, constants, report)
    _check_weights(model, constants, report)
    _check_attributes(model, constants, report)
    _check_profile(model, shapes, report)
    report.checked = [
        "op types against TensorRT 10's ONNX parser", "Q/DQ int8 with zero points 0",
        "constant convolution weights", "constant Slice axes", "Resize and Pad modes",
        f"input dimensions against the profile ({shapes.describe()})",
    ]
    return report
