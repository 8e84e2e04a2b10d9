"""What really ran in INT8: the share of a network's convolution MACs that the runtime
executed in INT8 kernels.

A file that stores INT8 does not make a runtime compute in INT8: ONNX Runtime runs a Q/DQ
pair around a convolution it cannot fuse as dequantize, FP32 conv, quantize, and OpenVINO
keeps in f32 whatever its CPU plugin has no INT8 primitive for. So the share is read from
what the runtime executed: ONNX Runtime's profile of one inference (each kernel with its
input and output types and shapes) and OpenVINO's runtime graph (each executed layer with
its runtime precision). TensorRT, Core ML and torch are not measured here: ``None``, never
an estimate.

Device-side code: numpy and the runtime itself (imported lazily), no torch, onnx or converter.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.errors import EdgeIRError

__all__ = ["ConvMacs", "conv_macs", "int8_mac_share", "onnxruntime_conv_macs", "openvino_conv_macs",
           "ort_profile_conv_macs", "ov_runtime_conv_macs"]

INT8_TYPES = frozenset({"int8", "uint8", "i8", "u8"})
"""Element types (ONNX Runtime's and OpenVINO's spellings) of an INT8 kernel's activations."""

ORT_CONV_WEIGHT_INPUT = {"Conv": 1, "FusedConv": 1, "NhwcFusedConv": 1, "NhwcConv": 1, "ConvInteger": 1,
                         "QLinearConv": 3, "ConvTranspose": 1, "QLinearConvTranspose": 3}
"""ONNX Runtime's convolution kernels (the ONNX ops and the fused or NHWC ones its graph
optimisations make, in any domain: the NCHWc ``Conv`` is named ``Conv`` too) and the
input that holds the weight."""
ORT_TRANSPOSED = frozenset({"ConvTranspose", "QLinearConvTranspose"})
OV_CONV_LAYERS = frozenset({"Convolution", "GroupConvolution", "Deconvolution", "GroupDeconvolution",
                            "ConvolutionBackpropData", "GroupConvolutionBackpropData", "BinaryConvolution"})
OV_TRANSPOSED = frozenset({"Deconvolution", "GroupDeconvolution", "ConvolutionBackpropData",
                           "GroupConvolutionBackpropData"})


@dataclass
class ConvMacs:
    """Convolution MACs of one inference, split by the precision of the kernel that ran them."""

    int8: int = 0
    total: int = 0
    kernels: dict[str, int] = field(default_factory=dict)
    """MACs per kernel kind (``QLinearConv uint8``, ``Convolution f32``...), for the report's
    reader to see what stayed in floating point."""

    def add(self, kind: str, macs: int, int8: bool) -> None:
        self.total += macs
        self.int8 += macs if int8 else 0
        self.kernels[kind] = self.kernels.get(kind, 0) + macs

    @property
    def share(self) -> float | None:
        """int8 / total, None where no convolution was seen (a runtime that fused the graph
        into kernels it does not name, such as an execution provider's compiled subgraph)."""
        return self.int8 / self.total if self.total else None


def _macs(output: Sequence[int], weight: Sequence[int], transposed: bool, input_: Sequence[int]) -> int:
    """prod(output) * Cin/groups * kH * kW for a convolution; for a transposed one each input
    element is spread over Cout/groups * kH * kW outputs. Those factors are the weight's last
    (rank - 1) dims in every layout: OIHW (ONNX, OpenVINO), GOIHW (OpenVINO's group
    convolution), IOHW and GIOHW (transposed)."""
    spread = math.prod(int(d) for d in weight[1 - len(output):])
    return math.prod(int(d) for d in (input_ if transposed else output)) * spread


# -- ONNX Runtime -----------------------------------------------------------------------------

def _ort_tensor(entry: dict[str, Any]) -> tuple[str, list[int]]:
    """One ``{"float": [1, 3, 256, 256]}`` entry of a profile's ``input_type_shape``."""
    ((dtype, shape),) = entry.items()
    return dtype, list(shape)


def ort_profile_conv_macs(events: Iterable[dict[str, Any]]) -> ConvMacs:
    """Convolution MACs from the events of an ONNX Runtime profile (``end_profiling()``'s JSON).

    A kernel is INT8 when its activations are int8/uint8 (QLinearConv, ConvInteger), not when
    its weights are: a DequantizeLinear feeding an FP32 Conv leaves an FP32 kernel. Shapes are
    those the kernels ran with: the NCHWc convolutions count their padded channel blocks. The
    weight's shape is only listed when weights are not prepacked (``session.disable_prepacking``);
    a convolution without it raises, rather than being counted wrongly."""
    macs = ConvMacs()
    for event in events:
        if event.get("cat") != "Node" or not str(event.get("name", "")).endswith("_kernel_time"):
            continue
        args = event.get("args", {})
        op = args.get("op_name")
        if op not in ORT_CONV_WEIGHT_INPUT:
            continue
        inputs = [_ort_tensor(e) for e in args.get("input_type_shape", [])]
        outputs = [_ort_tensor(e) for e in args.get("output_type_shape", [])]
        index = ORT_CONV_WEIGHT_INPUT[op]
        if len(inputs) <= index or len(inputs[index][1]) < 3 or not outputs:
            raise EdgeIRError(f"expected the weight shape of {op} {event['name']} in the ONNX Runtime profile, "
                              "found none (prepacked weights?)")
        dtype = inputs[0][0]
        count = _macs(outputs[0][1], inputs[index][1], op in ORT_TRANSPOSED, inputs[0][1])
        macs.add(f"{op} {dtype}", count, dtype in INT8_TYPES)
    return macs


SESSION_ATTRIBUTES = ("intra_op_num_threads", "inter_op_num_threads", "graph_optimization_level",
                      "execution_mode", "execution_order", "enable_cpu_mem_arena", "enable_mem_pattern",
                      "enable_mem_reuse", "use_deterministic_compute")
"""What the profiling session copies from the measured one: what decides which kernels run."""


def onnxruntime_conv_macs(session: Any, model: str | Path, x: np.ndarray) -> ConvMacs:
    """Run ``x`` once through a profiling twin of ``session`` (same model file, providers,
    provider options and session settings) and count its convolutions. A twin, because a
    session profiles from its creation on and the measured one must not; prepacking is off
    in the twin so the profile lists weight shapes (it changes weight layout, not kernels)."""
    import onnxruntime as ort

    used = session.get_session_options()
    options = ort.SessionOptions()
    for name in SESSION_ATTRIBUTES:
        if hasattr(used, name):
            setattr(options, name, getattr(used, name))
    options.add_session_config_entry("session.disable_prepacking", "1")
    options.enable_profiling = True
    provider_options = session.get_provider_options()
    providers = [(p, provider_options.get(p, {})) for p in session.get_providers()]
    with tempfile.TemporaryDirectory(prefix="edgeir-profile-") as folder:
        options.profile_file_prefix = str(Path(folder) / "ort")
        twin = ort.InferenceSession(str(model), options, providers=providers)
        try:
            twin.run(None, {twin.get_inputs()[0].name: x})
        finally:
            profile = Path(twin.end_profiling())
            del twin
        events = json.loads(profile.read_text())
    return ort_profile_conv_macs(events)


# -- OpenVINO ---------------------------------------------------------------------------------

def _rt_text(info: Any, key: str) -> str | None:
    if key not in info:
        return None
    value = info[key]
    return value.astype(str) if hasattr(value, "astype") else str(value)


def ov_runtime_conv_macs(runtime_model: Any) -> ConvMacs:
    """Convolution MACs from an OpenVINO compiled model's runtime graph (``get_runtime_model()``
    after an inference, when its shapes are those that ran): each executed layer's
    ``layerType`` and ``runtimePrecision``, the precision its primitive computes in (u8/i8 for
    an INT8 one; where a plugin gives none, the element type of its data input). Not
    ``outputPrecisions``: an INT8 convolution may write bf16 or f32."""
    macs = ConvMacs()
    for op in runtime_model.get_ordered_ops():
        info = op.get_rt_info()
        layer = _rt_text(info, "layerType")
        if layer not in OV_CONV_LAYERS:
            continue
        precision = _rt_text(info, "runtimePrecision") or op.get_input_element_type(0).get_type_name()
        shapes = [op.get_input_partial_shape(i) for i in range(min(op.get_input_size(), 2))]
        output = op.get_output_partial_shape(0)
        if len(shapes) < 2 or not all(s.is_static for s in (*shapes, output)):
            raise EdgeIRError(f"expected static shapes on the executed {layer} {op.get_friendly_name()}, "
                              f"found {', '.join(str(s) for s in (*shapes, output))}")
        data, weight = (list(s.to_shape()) for s in shapes)
        count = _macs(list(output.to_shape()), weight, layer in OV_TRANSPOSED, data)
        macs.add(f"{layer} {precision}", count, precision.strip().lower() in INT8_TYPES)
    return macs


def openvino_conv_macs(compiled: Any, x: np.ndarray) -> ConvMacs:
    """Run ``x`` once on a request of its own (so the runtime graph holds the shapes that ran,
    also for a model with dynamic ones) and count the executed convolutions."""
    request = compiled.create_infer_request()
    request.infer(x)
    return ov_runtime_conv_macs(compiled.get_runtime_model())


# -- any runtime -------------------------------------------------------------------------------

def conv_macs(runtime: Any, x: np.ndarray) -> ConvMacs | None:
    """The convolution MACs ``runtime`` runs on ``x`` (N x 3 x H x W float32) by kernel
    precision; None for a runtime whose kernels cannot be seen from here."""
    backend = runtime.info.backend
    if backend == "onnxruntime":
        return onnxruntime_conv_macs(runtime.session, runtime.path, x)
    if backend == "openvino":
        return openvino_conv_macs(runtime.compiled_for(tuple(x.shape)), x)
    return None


def int8_mac_share(runtime: Any, x: np.ndarray) -> float | None:
    """The share (0..1) of the convolution MACs that ran in INT8 kernels; None where not
    measurable (TensorRT, Core ML, torch, or no convolution visible)."""
    macs = conv_macs(runtime, x)
    return None if macs is None else macs.share
