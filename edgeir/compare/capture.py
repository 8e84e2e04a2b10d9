"""The intermediate outputs of every layer, per runtime: what a side of a comparison runs.

Each side runs the network once per batch and returns its output with the outputs of the
layers asked for, all float32 (an FP16 graph's tensors are cast), on the CPU:

- ONNX (``.onnx``, ``.trt.onnx``): the layers' output tensors become extra graph outputs
  (in memory; the file is not changed), run by ONNX Runtime's CPU provider. A Q/DQ INT8
  graph keeps the FP32 graph's name on each ``Conv``'s float output.
- OpenVINO (``.xml``): the layers' outputs become model outputs (``Model.add_outputs``),
  compiled with the artifact's manifest runtime options (``INFERENCE_PRECISION_HINT``), as
  the OpenVINO backend runs it. A convolution's output is taken after its bias ``Add``, so
  that it is the same tensor as the ONNX ``Conv``'s.
- PyTorch: the export rewrite, with forward hooks that keep track of the module running and
  a function mode that records every ``conv2d`` / ``conv_transpose2d`` under it. Hooks on
  ``nn.Conv2d`` alone would miss the convolutions the rewrite computes with folded
  BatchNorm weights (the dynamic-filter taps), which ONNX names after their module.

Adding outputs can keep a runtime from fusing a layer with what follows it (ONNX Runtime's
QLinearConv, for one): the figures are those of the graph as written, layer by layer.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.compare.layers import (
    NODE_OPS,
    OPENVINO_OPS,
    WITHOUT_BIASES,
    Key,
    Layer,
    node_key,
    scope_key,
)
from edgeir.errors import EdgeIRError
from edgeir.manifest import Manifest, manifest_path
from edgeir.models.weights import Weights

TORCH_NAMES = ("torch", "pytorch")
"""What names the PyTorch export rewrite instead of an artifact path."""
SUFFIXES = (".onnx", ".xml")
"""Artifacts compared here (``.trt.onnx`` ends in ``.onnx``)."""
DEVICE_ONLY = {
    ".engine": "a TensorRT engine runs only on the GPU that built it: compare its .trt.onnx (the graph "
               "it was built from) instead",
    ".mlpackage": "a Core ML package runs only with Core ML on macOS: compare the ONNX or OpenVINO export",
}


class Side(ABC):
    """One side of a comparison: a label, the manifest that describes it (None for
    PyTorch), its layers in its own order, and a run that captures them."""

    label: str
    manifest: Manifest | None
    layers: list[Layer]
    graph: bool
    """Whether ``layers`` is the network's execution order (a graph's node order)."""

    @abstractmethod
    def run(self, x: np.ndarray, keys: list[Key]) -> tuple[np.ndarray, dict[Key, np.ndarray]]:
        """(the network's output, the outputs of the layers ``keys``) for an N x 3 x H x W
        float32 batch, all float32."""

    def close(self) -> None:
        """Release the session or model."""


def read_artifact_manifest(path: Path) -> Manifest:
    """The manifest beside an artifact edgeir wrote, checked against the file; an artifact
    that cannot be compared here (an engine, a Core ML package, another file) is refused."""
    suffix = path.suffix.lower()
    if suffix in DEVICE_ONLY:
        raise EdgeIRError(f"expected an .onnx, .trt.onnx or .xml artifact (or torch), found {path.name}: "
                          f"{DEVICE_ONLY[suffix]}")
    if suffix not in SUFFIXES:
        raise EdgeIRError(f"expected an .onnx, .trt.onnx or .xml artifact (or torch), found {path.name}")
    if not path.is_file():
        raise EdgeIRError(f"expected an artifact file at {path}, found nothing")
    sidecar = manifest_path(path)
    if not sidecar.is_file():
        raise EdgeIRError(f"expected the manifest {sidecar.name} beside {path.name} (edgeir export writes it), "
                          "found none")
    from edgeir.runtimes import check_manifest_matches

    manifest = Manifest.read(sidecar)
    check_manifest_matches(manifest, path, sidecar)
    wanted = "openvino" if suffix == ".xml" else "onnxruntime"
    if manifest.runtime != wanted:
        raise EdgeIRError(f"expected a {wanted} artifact as {path.suffix} says, found runtime "
                          f"{manifest.runtime!r} in {sidecar.name}")
    return manifest


def open_artifact(path: Path, manifest: Manifest) -> Side:
    """The side that runs an artifact whose manifest :func:`read_artifact_manifest` read."""
    if path.suffix.lower() == ".xml":
        return OpenVinoSide(path, manifest)
    return OnnxSide(path, manifest)


def _label(path: Path, manifest: Manifest) -> str:
    return f"{manifest.target} ({manifest.precision}) {path.name}"


class OnnxSide(Side):
    graph = True

    def __init__(self, path: Path, manifest: Manifest) -> None:
        import onnx

        from edgeir.runtimes.base import import_runtime

        ort = import_runtime("onnxruntime", "comparing .onnx models", "onnx")
        self.manifest = manifest
        self.label = f"{_label(path, manifest)}, onnxruntime CPU"
        model = onnx.load(str(path))
        self.output_name = model.graph.output[0].name
        self.input_name = model.graph.input[0].name
        nodes = [n for n in model.graph.node if n.op_type in NODE_OPS]
        self.layers = [Layer(n.name or n.output[0], node_key(n.name or n.output[0])) for n in nodes]
        self._tensors = {layer.key: n.output[0] for layer, n in zip(self.layers, nodes)}
        present = {o.name for o in model.graph.output}
        # A name alone is enough for ONNX Runtime, whatever the tensor's type (FP16 included).
        model.graph.output.extend(onnx.ValueInfoProto(name=t) for t in self._tensors.values() if t not in present)
        try:
            self.session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            first = str(exc).strip().splitlines()[0]
            raise EdgeIRError(f"expected an ONNX model that onnxruntime can load at {path}: {first}") from None

    def run(self, x: np.ndarray, keys: list[Key]) -> tuple[np.ndarray, dict[Key, np.ndarray]]:
        names = [self.output_name] + [self._tensors[k] for k in keys]
        values = self.session.run(names, {self.input_name: x})
        return values[0].astype(np.float32), {k: v.astype(np.float32) for k, v in zip(keys, values[1:])}

    def close(self) -> None:
        self.session = None


def _layer_output(op: Any) -> tuple[str, Any]:
    """(the ONNX node name, the output) of an OpenVINO convolution: its bias ``Add`` when
    the conversion split the node in two (the ``Add`` keeps the node's name and output,
    the convolution is ``NAME/WithoutBiases`` or, for transposed ones, renamed), so that
    it is the same tensor as the ONNX node's; else the convolution itself."""
    name = op.get_friendly_name()
    consumers = [target.get_node() for target in op.output(0).get_target_inputs()]
    if len(consumers) == 1 and consumers[0].get_type_name() == "Add":
        add = consumers[0]
        added = add.get_friendly_name()
        renamed = not op.output(0).get_names() and re.search(r"/(Conv|ConvTranspose)(_\d+)?$", added)
        if added + WITHOUT_BIASES == name or renamed:
            return added, add.output(0)
    return name, op.output(0)


class OpenVinoSide(Side):
    graph = True

    def __init__(self, path: Path, manifest: Manifest) -> None:
        from edgeir.runtimes.base import import_runtime
        from edgeir.runtimes.openvino_backend import _without_location

        ov = import_runtime("openvino", "comparing OpenVINO IR", "openvino")
        if not path.with_suffix(".bin").is_file():
            raise EdgeIRError(f"expected the weights {path.with_suffix('.bin').name} beside {path.name}, found none")
        self.manifest = manifest
        options = dict(manifest.runtime_options)
        settings = ", ".join(f"{k}={v}" for k, v in options.items()) or "the CPU plugin's defaults"
        self.label = f"{_label(path, manifest)}, OpenVINO CPU ({settings})"
        core = ov.Core()
        model = core.read_model(str(path))
        ops = [op for op in model.get_ordered_ops() if op.get_type_name() in OPENVINO_OPS]
        found = [_layer_output(op) for op in ops]
        self.layers = [Layer(name, node_key(name)) for name, _ in found]
        outputs = [output for _, output in found]
        model.add_outputs(outputs)
        # Results in model order: the network's output first, then each layer's, found by
        # the output that feeds them (add_outputs reuses a Result that is already there).
        fed = [(r.get_node().input_value(0).get_node().get_friendly_name(), r.get_node().input_value(0).get_index())
               for r in model.outputs]
        self._index = {layer.key: fed.index((o.get_node().get_friendly_name(), o.get_index()))
                       for layer, o in zip(self.layers, outputs)}
        try:
            self.compiled = core.compile_model(model, "CPU", options)
        except Exception as exc:  # a plugin that fails, or options this OpenVINO does not know
            raise EdgeIRError(f"expected OpenVINO to compile {path.name} for CPU with {settings}: "
                              f"{_without_location(exc)}") from None
        self.request = self.compiled.create_infer_request()

    def run(self, x: np.ndarray, keys: list[Key]) -> tuple[np.ndarray, dict[Key, np.ndarray]]:
        values = self.request.infer(x, share_outputs=False).to_tuple()
        return (np.asarray(values[0], np.float32),
                {k: np.asarray(values[self._index[k]], np.float32) for k in keys})

    def close(self) -> None:
        self.request = self.compiled = None


class TorchSide(Side):
    """The PyTorch export rewrite, FP32 on the CPU: the model every artifact is exported
    from and verified against. Its layers are listed by running ``example`` once, in the
    order they run, each keyed by the module running it."""

    graph = False

    def __init__(self, weights: Weights, variant: str, task: str, example: np.ndarray) -> None:
        from edgeir.models import exportable

        self.manifest = None
        self.label = f"torch: PyTorch export rewrite, FP32 CPU ({weights.description})"
        self.model = exportable(weights.build(variant, task)).eval()
        self._stack: list[str] = []
        self._calls: dict[str, int] = {}
        self._captured: dict[Key, Any] = {}
        self._wanted: set[Key] = set()
        for name, module in self.model.named_modules():
            module.register_forward_pre_hook(self._enter(name))
            module.register_forward_hook(self._leave)
        self._order: list[Key] = []
        self._forward(example)
        self.layers = [Layer(".".join(key), key) for key in self._order]

    def _enter(self, name: str) -> Any:
        def hook(module: Any, inputs: Any) -> None:
            self._stack.append(name)
            self._calls[name] = 0
        return hook

    def _leave(self, module: Any, inputs: Any, output: Any) -> None:
        self._stack.pop()

    def _record(self, value: Any) -> None:
        scope = self._stack[-1] if self._stack else ""
        key = scope_key(scope, self._calls.get(scope, 0))
        self._calls[scope] = self._calls.get(scope, 0) + 1
        self._order.append(key)
        if key in self._wanted:
            self._captured[key] = value

    def _forward(self, x: np.ndarray) -> np.ndarray:
        import torch

        self._stack, self._order, self._captured = [], [], {}
        with torch.inference_mode(), recording_convolutions(self._record):
            return self.model(torch.from_numpy(x)).float().numpy()

    def run(self, x: np.ndarray, keys: list[Key]) -> tuple[np.ndarray, dict[Key, np.ndarray]]:
        self._wanted = set(keys)
        output = self._forward(x)
        missing = [k for k in keys if k not in self._captured]
        if missing:
            raise EdgeIRError(f"expected PyTorch to run layer {'.'.join(missing[0])}, found it not run on this input")
        return output, {k: self._captured[k].float().numpy() for k in keys}

    def close(self) -> None:
        self.model = None


def recording_convolutions(record: Any) -> Any:
    """A torch function mode that hands the output of every convolution, a module's or a
    functional one, to ``record``."""
    import torch
    from torch.overrides import TorchFunctionMode

    functions = (torch.conv1d, torch.conv2d, torch.conv3d, torch.conv_transpose1d, torch.conv_transpose2d,
                 torch.conv_transpose3d)

    class RecordConvolutions(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            result = func(*args, **(kwargs or {}))
            if func in functions:
                record(result)
            return result

    return RecordConvolutions()
