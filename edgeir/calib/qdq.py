"""Returning chosen convolutions of a Q/DQ INT8 graph to floating point, by graph surgery.

A PSNR budget tries many mixes of INT8 and floating-point convolutions; calibrating again
for each would repeat the slowest step of the export. The ranges do not change when a
convolution leaves INT8 (every tensor is calibrated on the floating-point graph), so each
mix is the one quantized graph with some Q/DQ pairs bypassed. Works on both quantizers'
forms: ONNX Runtime's (weights stored as int8 initializers, outputs quantized too) and
ModelOpt's (weights quantized by a QuantizeLinear node, FP16 elsewhere): a restored
convolution computes in the type its DequantizeLinear produced, FP32 or FP16.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

QUANTIZED = "Conv"


def _producers(model: Any) -> dict[str, Any]:
    return {out: node for node in model.graph.node for out in node.output}


def quantized_convolutions(model: Any) -> list[str]:
    """Names of the convolutions whose input is dequantized, in graph order."""
    made = _producers(model)
    return [node.name for node in model.graph.node if node.op_type == QUANTIZED and node.input
            and getattr(made.get(node.input[0]), "op_type", None) == "DequantizeLinear"]


def _float_inputs(fp32: Any) -> dict[str, list[str]]:
    return {node.name: list(node.input) for node in fp32.graph.node if node.op_type == QUANTIZED}


def restore(qdq: Any, fp32: Any, names: Iterable[str], float_readers: bool = False) -> Any:
    """A copy of ``qdq`` in which the convolutions ``names`` read floating-point inputs and
    weights, and what read their quantized outputs reads the float outputs. With
    ``float_readers``, every reader outside the INT8 convolutions reads the float tensor
    wherever it exists (``restore(qdq, fp32, [], True)`` does only that). Weights
    the quantizer stored only as integers are taken from ``fp32``, the graph it quantized,
    in the type the convolution computes in."""
    import onnx
    from onnx import numpy_helper

    model = onnx.ModelProto()
    model.CopyFrom(qdq)
    wanted = set(names)
    made = _producers(model)
    initializers = {t.name: t for t in model.graph.initializer}
    originals = {t.name: t for t in fp32.graph.initializer}
    float_inputs = _float_inputs(fp32)
    conv_inputs = _dequantized_conv_inputs(model)
    missing = sorted(wanted - set(quantized_convolutions(model)))
    if missing:
        raise ValueError(f"not quantized convolutions of the graph: {', '.join(missing[:3])}")
    for node in model.graph.node:
        if node.name not in wanted:
            continue
        for position, name in enumerate(node.input):
            dequantize = made.get(name)
            if getattr(dequantize, "op_type", None) != "DequantizeLinear":
                continue
            quantize = made.get(dequantize.input[0])
            if getattr(quantize, "op_type", None) == "QuantizeLinear":
                node.input[position] = quantize.input[0]
                continue
            original = float_inputs[node.name][position]
            scale_type = initializers[dequantize.input[1]].data_type
            value = numpy_helper.to_array(originals[original]).astype(
                onnx.helper.tensor_dtype_to_np_dtype(scale_type))
            restored = f"{original}_edgeir_float"
            if restored not in initializers:
                initializers[restored] = numpy_helper.from_array(value, restored)
                model.graph.initializer.append(initializers[restored])
            node.input[position] = restored
    return _without_dead_nodes(_float_readers_read_float(model, float_readers, wanted, conv_inputs))


def _dequantized_conv_inputs(model: Any) -> set[str]:
    made = _producers(model)
    return {node.input[0] for node in model.graph.node if node.op_type == QUANTIZED and node.input
            and getattr(made.get(node.input[0]), "op_type", None) == "DequantizeLinear"}


def _float_readers_read_float(model: Any, every: bool, restored: set[str], conv_inputs: set[str]) -> Any:
    """Point readers of a Q/DQ pair at the float tensor where the pair no longer serves an
    INT8 convolution: the output of a restored convolution, or the input only restored
    convolutions read. With ``every``, wherever the float tensor exists: ONNX Runtime's
    quantizer points every reader of a quantized tensor at its DequantizeLinear, so an Add
    or a Slice beside a quantized convolution reads the rounded tensor (the input image's
    residual too), which costs accuracy and buys nothing on its CPU kernels. Not for
    TensorRT: it fuses a quantized residual into the convolution, so ModelOpt's other
    placements are kept. Never for the output of a convolution that stays INT8, whose
    quantized output ONNX Runtime fuses into the kernel."""
    made = _producers(model)
    int8 = set(quantized_convolutions(model))
    readers: dict[str, list[Any]] = defaultdict(list)
    for node in model.graph.node:
        for name in node.input:
            readers[name].append(node)
    for dequantize in [n for n in model.graph.node if n.op_type == "DequantizeLinear"]:
        quantize = made.get(dequantize.input[0])
        if getattr(quantize, "op_type", None) != "QuantizeLinear":
            continue
        source, rounded = quantize.input[0], dequantize.output[0]
        maker = getattr(made.get(source), "name", None)
        if maker in int8:
            continue
        served = any(r.op_type == QUANTIZED and r.name in int8 for r in readers[rounded])
        if not (every or maker in restored or rounded in conv_inputs and not served):
            continue
        for reader in readers[rounded]:
            if reader.op_type == QUANTIZED and reader.name in int8:
                continue
            for position, name in enumerate(reader.input):
                if name == rounded:
                    reader.input[position] = source
    return model


def _without_dead_nodes(model: Any) -> Any:
    """Drop nodes nothing reads any more, then initializers nothing reads."""
    outputs = {o.name for o in model.graph.output}
    nodes = list(model.graph.node)
    while True:
        read = {name for node in nodes for name in node.input} | outputs
        alive = [node for node in nodes if any(out in read for out in node.output)]
        if len(alive) == len(nodes):
            break
        nodes = alive
    read = {name for node in nodes for name in node.input} | outputs
    kept = [t for t in model.graph.initializer if t.name in read]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    return model
