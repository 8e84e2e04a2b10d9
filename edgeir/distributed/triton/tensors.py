"""The inputs and outputs Triton sees, read from the artifact itself: an ONNX graph, an
OpenVINO IR's XML, or for a TensorRT engine (which cannot be read without TensorRT) the
graph it was built from or its manifest."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeir.errors import EdgeIRError
from edgeir.fileio import inside, sha256_of
from edgeir.manifest import Manifest

ONNX_TYPES = {1: "TYPE_FP32", 10: "TYPE_FP16", 16: "TYPE_BF16", 11: "TYPE_FP64", 2: "TYPE_UINT8",
              3: "TYPE_INT8", 4: "TYPE_UINT16", 5: "TYPE_INT16", 6: "TYPE_INT32", 7: "TYPE_INT64",
              9: "TYPE_BOOL"}
ORT_TYPES = {"tensor(float)": "TYPE_FP32", "tensor(float16)": "TYPE_FP16", "tensor(bfloat16)": "TYPE_BF16",
             "tensor(double)": "TYPE_FP64", "tensor(uint8)": "TYPE_UINT8", "tensor(int8)": "TYPE_INT8",
             "tensor(int32)": "TYPE_INT32", "tensor(int64)": "TYPE_INT64", "tensor(bool)": "TYPE_BOOL"}
OPENVINO_TYPES = {"f32": "TYPE_FP32", "fp32": "TYPE_FP32", "f16": "TYPE_FP16", "fp16": "TYPE_FP16",
                  "bf16": "TYPE_BF16", "f64": "TYPE_FP64", "fp64": "TYPE_FP64", "u8": "TYPE_UINT8",
                  "i8": "TYPE_INT8", "i32": "TYPE_INT32", "i64": "TYPE_INT64", "boolean": "TYPE_BOOL",
                  "bool": "TYPE_BOOL"}
MANIFEST_TYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16"}


@dataclass(frozen=True)
class Tensor:
    """One input or output as Triton sees it: ``dims`` include the batch dimension (-1 where
    the graph leaves a side free)."""

    name: str
    data_type: str
    dims: tuple[int, ...]


def _dims(values: Sequence[Any]) -> tuple[int, ...]:
    """Fixed sides as they are, anything symbolic, unknown or bounded as -1."""
    out = []
    for value in values:
        text = str(value).strip() if value is not None else ""
        out.append(int(text) if text.isdigit() and int(text) > 0 else -1)
    return tuple(out)


def _triton_type(found: str | None, raw: Any, path: Path) -> str:
    if found is None:
        raise EdgeIRError(f"expected tensors of a type Triton serves (float, float16, integers) in "
                          f"{path.name}, found type {raw!r}")
    return found


def onnx_tensors(path: Path) -> tuple[list[Tensor], list[Tensor]]:
    """Inputs and outputs of an ONNX graph, from the graph: ``onnx.load`` without the
    weights' external data (only the graph's declarations are read), or ONNX Runtime's
    session where onnx is not installed (a device install)."""
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None:
        try:
            model = onnx.load(str(path), load_external_data=False)
        except Exception as exc:  # DecodeError, or onnx's own
            raise EdgeIRError(f"expected an ONNX graph at {path}, found one onnx cannot read: {exc}") from None
        external = [t.name for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
        if external:
            raise EdgeIRError(f"expected a self-contained ONNX graph (as edgeir exports write), found "
                              f"{len(external)} tensor(s) in external data files in {path.name}")
        weights = {t.name for t in model.graph.initializer}

        def tensor(value: Any) -> Tensor:
            kind = value.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else None for d in kind.shape.dim]
            return Tensor(value.name, _triton_type(ONNX_TYPES.get(kind.elem_type), kind.elem_type, path),
                          _dims(dims))

        return ([tensor(v) for v in model.graph.input if v.name not in weights],
                [tensor(v) for v in model.graph.output])
    try:
        import onnxruntime
    except ImportError:
        raise EdgeIRError(f"reading the inputs and outputs of {path.name} needs onnx or onnxruntime: "
                          'pip install "edgeir[ort]"') from None
    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise EdgeIRError(f"expected an ONNX graph at {path}, found one ONNX Runtime cannot load: "
                          + " ".join(str(exc).split())) from None
    return ([Tensor(i.name, _triton_type(ORT_TYPES.get(i.type), i.type, path), _dims(i.shape))
             for i in session.get_inputs()],
            [Tensor(o.name, _triton_type(ORT_TYPES.get(o.type), o.type, path), _dims(o.shape))
             for o in session.get_outputs()])


def _ov_names(text: str | None) -> list[str]:
    """Tensor names of an IR port: comma separated, with commas inside a name escaped."""
    if not text:
        return []
    return [n.replace("\\,", ",").strip() for n in re.split(r"(?<!\\),", text) if n.strip()]


def openvino_tensors(xml: Path) -> tuple[list[Tensor], list[Tensor]]:
    """Inputs and outputs of an OpenVINO IR, parsed from its ``.xml`` (no OpenVINO needed):
    ``Parameter`` layers are the inputs, ``Result`` layers the outputs. A tensor can carry
    several names; Triton's OpenVINO backend matches ``get_any_name()``, OpenVINO's smallest
    one, so that is the name written. A ``Result``'s name is its ``output_names`` (recent
    IRs) or the names of the port that feeds it."""
    try:
        root = ET.parse(xml).getroot()
    except (ET.ParseError, OSError) as exc:
        raise EdgeIRError(f"expected an OpenVINO IR (XML) at {xml}, found one that does not parse: {exc}") from None
    layers = {layer.get("id"): layer for layer in root.iter("layer")}
    feeds = {edge.get("to-layer"): (edge.get("from-layer"), edge.get("from-port")) for edge in root.iter("edge")}

    def port_dims(port: ET.Element | None) -> tuple[int, ...]:
        return _dims([d.text for d in port.findall("dim")]) if port is not None else ()

    def dtype(value: str | None) -> str:
        return _triton_type(OPENVINO_TYPES.get((value or "").lower()), value, xml)

    inputs, outputs = [], []
    for layer in layers.values():
        kind = layer.get("type")
        if kind == "Parameter":
            data, port = layer.find("data"), layer.find("output/port")
            names = _ov_names(port.get("names") if port is not None else None) or [layer.get("name", "")]
            shape = data.get("shape") if data is not None else None
            dims = _dims(shape.split(",")) if shape else port_dims(port)
            inputs.append(Tensor(min(names), dtype(data.get("element_type") if data is not None else None), dims))
        elif kind == "Result":
            port = layer.find("input/port")
            names = _ov_names(layer.get("output_names"))
            if not names and layer.get("id") in feeds:
                source_layer, source_port = feeds[layer.get("id")]
                source = layers.get(source_layer)
                for candidate in source.findall("output/port") if source is not None else []:
                    if candidate.get("id") == source_port:
                        names = _ov_names(candidate.get("names"))
            if not names:
                raise EdgeIRError(f"expected named outputs in the OpenVINO IR {xml.name}, found the "
                                  f"unnamed result {layer.get('name')!r}")
            outputs.append(Tensor(min(names), dtype(port.get("precision") if port is not None else None),
                                  port_dims(port)))
    if not inputs or not outputs:
        raise EdgeIRError(f"expected Parameter and Result layers in the OpenVINO IR {xml.name}, found "
                          f"{len(inputs)} input(s) and {len(outputs)} output(s)")
    return inputs, outputs


def engine_tensors(path: Path, manifest: Manifest) -> tuple[list[Tensor], list[Tensor], str]:
    """Inputs and outputs of a TensorRT engine, which cannot be read without TensorRT, and
    where they came from: the names and types from the TRT-ready ONNX it was built from when
    that graph is beside it unchanged (``details.engine.onnx`` and its sha256), else from the
    manifest (the same names: the engine manifest is the graph's, copied at build time); the
    dims from the manifest's shapes, which record the engine's optimization profile (a static
    profile fixes every dim, a dynamic one leaves batch, height and width free). ConvIR
    returns a frame of its input's shape, so outputs take the input's dims."""
    shapes = manifest.input_shapes
    dims = (shapes.max_batch, 3, *shapes.opt) if shapes.static else (-1, 3, -1, -1)
    engine = manifest.details.get("engine") or {}
    graph = inside(path.parent, engine.get("onnx") or path.name.removesuffix(".engine") + ".trt.onnx",
                   f"the TRT-ready graph that the manifest of {path.name} names")
    if graph.is_file() and engine.get("onnx_sha256") and sha256_of(graph) == engine["onnx_sha256"]:
        inputs, outputs = onnx_tensors(graph)
        return ([Tensor(t.name, t.data_type, dims) for t in inputs],
                [Tensor(t.name, t.data_type, dims) for t in outputs], f"the TRT-ready graph {graph.name}")

    def tensor(record: dict[str, Any], what: str) -> Tensor:
        found = MANIFEST_TYPES.get(str(record.get("dtype")))
        if not record.get("name") or found is None:
            raise EdgeIRError(f"expected the {what} name and dtype (float32 or float16) in the manifest of "
                              f"{path.name}, found {record!r}")
        return Tensor(str(record["name"]), found, dims)

    return [tensor(manifest.input, "input")], [tensor(manifest.output, "output")], "the manifest"
