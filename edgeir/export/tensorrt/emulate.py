"""FP16 activations, emulated on a CPU: the honest estimate of a TensorRT FP16 engine.

ONNX Runtime's CPU kernels run many FP16 ops in FP32 and drop the casts between
neighbouring ones, so an FP16 graph run there mostly measures weight rounding
(docs/benchmarks.md compares the two). On a GPU every tensor that the graph types FP16
is stored in FP16 between kernels. This rewrite makes that explicit: each FP16 tensor
becomes an FP32 tensor rounded to FP16 (a Cast to FP16 and back), FP16 constants become
their exact FP32 values, and the graph runs with ONNX Runtime's optimizations off so no
rounding is folded away. What it does not model: FP16 arithmetic inside a kernel (TensorRT
accumulates convolutions in FP32, as this does) and the fusions that let TensorRT skip
some roundings, so it errs on the pessimistic side.
"""

from __future__ import annotations

from typing import Any


def emulate_fp16(model: Any) -> Any:
    """An FP32 ModelProto that rounds every tensor ``model`` types FP16 to FP16."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False)
    types = {v.name: v.type.tensor_type.elem_type for v in
             [*inferred.graph.value_info, *inferred.graph.input, *inferred.graph.output]}
    graph = inferred.graph
    for index, tensor in enumerate(graph.initializer):
        if tensor.data_type == TensorProto.FLOAT16:
            widened = numpy_helper.from_array(numpy_helper.to_array(tensor).astype("float32"), tensor.name)
            graph.initializer[index].CopyFrom(widened)

    nodes = []
    for node in graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value" and attribute.t.data_type == TensorProto.FLOAT16:
                    attribute.t.CopyFrom(numpy_helper.from_array(
                        numpy_helper.to_array(attribute.t).astype("float32"), attribute.t.name))
            nodes.append(node)
            continue
        if node.op_type == "ConstantOfShape":
            for attribute in node.attribute:
                if attribute.name == "value" and attribute.t.data_type == TensorProto.FLOAT16:
                    attribute.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attribute.t).astype("float32")))
        rounded = [o for o in node.output if o and types.get(o) == TensorProto.FLOAT16]
        if node.op_type == "Cast" and rounded:
            # Cast(to=FP16) stays and is followed by a Cast back: the value is rounded, the type is FP32.
            out = node.output[0]
            node.output[0] = f"{out}/fp16"
            nodes.extend([node, helper.make_node("Cast", [node.output[0]], [out], to=TensorProto.FLOAT,
                                                 name=f"{node.name}/emulate_fp16_back")])
            continue
        nodes.append(node)
        for position, out in enumerate(node.output):
            if out not in rounded:
                continue
            node.output[position] = f"{out}/fp32"
            nodes.append(helper.make_node("Cast", [f"{out}/fp32"], [f"{out}/fp16"], to=TensorProto.FLOAT16,
                                          name=f"{node.name}/emulate_fp16_{position}"))
            nodes.append(helper.make_node("Cast", [f"{out}/fp16"], [out], to=TensorProto.FLOAT,
                                          name=f"{node.name}/emulate_fp16_back_{position}"))
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]
    for tensor in [*graph.input, *graph.output]:
        if tensor.type.tensor_type.elem_type == TensorProto.FLOAT16:
            tensor.type.tensor_type.elem_type = TensorProto.FLOAT
    return inferred


def emulation_session(model: Any) -> Any:
    """An ONNX Runtime CPU session with every graph optimization off, so the roundings stay."""
    from edgeir.export.graph import session

    return session(emulate_fp16(model), optimize=False)
