"""The FP16 range check for Core ML: the layers it keeps, found among the ML program's ops
and computed in FP32 there, or the export refused.

The check (``edgeir.export.fp16_range``) runs on the traced ONNX graph of the same rewrite,
whose node names are module paths (``/Encoder.0/layers/layers.0/main/main.0/main/main.0/Conv``).
Core ML's ops are named after TorchScript values, but coremltools records each op's module
path as a scope (``0, layers, 0, main, 0, main, 0``): a module's attribute name, without the
ModuleList holding it. So a node maps to the ops of its module, compared on the last atom
of each name; modules at the same index of different ModuleLists (``Encoder.0`` and
``Decoder.0``) share a path and are kept in FP32 alike. That errs toward FP32, never
toward FP16, and the converted program is checked: every kept layer has ops, and they
compute in FP32.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

from edgeir.errors import EdgeIRError
from edgeir.export.fp16_range import RangeCheck
from edgeir.export.pipeline import Network
from edgeir.export.request import ExportRequest

Scope = tuple[str, ...]

NOTE = ("kept in FP32 through coremltools' FP16ComputePrecision op_selector: the ops of the modules "
        "of the nodes listed (Core ML's module paths omit ModuleList names, so modules at the same index "
        "of another list stay FP32 too) and the ops reading their over-bound outputs; fp32_ops lists "
        "every op the ML program computes in FP32")
RANGE_CHECK_NEEDS = ("onnx", "onnxruntime", "onnxslim")
"""The range check runs the traced ONNX graph of the rewrite in ONNX Runtime."""


def checks_range(request: ExportRequest) -> bool:
    """Whether the export runs the range check: ``coreml`` without ``--precision fp32``
    (``coreml-int8`` computes in FP16 too, but is not checked)."""
    return request.target.precision != "int8" and (request.options.get("precision") or "fp16") == "fp16"


def check_range_available() -> None:
    """Refused before any work where the range check could not run."""
    missing = [name for name in RANGE_CHECK_NEEDS if importlib.util.find_spec(name) is None]
    if missing:
        raise EdgeIRError(f"expected {', '.join(RANGE_CHECK_NEEDS)} for the FP16 range check of an FP16 Core ML "
                          f"export, found {', '.join(missing)} missing: pip install \"edgeir[onnx]\", or "
                          "export with --precision fp32")


def range_check(request: ExportRequest, network: Network) -> RangeCheck:
    """The range check on the rewrite's traced ONNX graph and the calibration frames, not
    yet warned about (the export may be refused instead)."""
    from edgeir.export.fp16_range import check_range
    from edgeir.export.graph import DEFAULT_OPSET, trace
    from edgeir.export.onnx import range_frames

    graph = trace(network.rewrite, request.shapes, DEFAULT_OPSET)
    return check_range(graph, range_frames(request, network), warn_now=False)


def onnx_scope(node: str) -> Scope:
    """The module path of an ONNX node as Core ML records it. The exporter names each level
    from its last non-numeric atom on (``layers.0``); Core ML keeps the attribute name
    (``0``)."""
    return tuple(part.rsplit(".", 1)[-1] for part in node.strip("/").split("/")[:-1])


def mil_scope(op: Any, prefix: Scope = ()) -> Scope | None:
    """The module path of a MIL op (its TorchScript scope less the value name), ``prefix``
    (the modules wrapping the network) removed; None where coremltools recorded none."""
    from coremltools.converters.mil.mil.scope import ScopeSource

    names = op.scopes.get(ScopeSource.TORCHSCRIPT_MODULE_NAME)
    if not names:
        return None
    path = tuple(names[:-1])
    return path[len(prefix):] if path[:len(prefix)] == prefix else path


def _inputs(op: Any) -> Iterator[Any]:
    for value in op.inputs.values():
        yield from value if isinstance(value, (list, tuple)) else (value,)


class KeepFP32:
    """``op_selector`` of ``ct.transform.FP16ComputePrecision``: False (stay FP32) for the
    ops of the kept nodes' modules and for the ops reading an output of a module that makes
    an over-bound tensor."""

    def __init__(self, ranges: RangeCheck, prefix: Scope = ()) -> None:
        self.kept = {onnx_scope(node) for node in ranges.kept_nodes}
        self.makers = {onnx_scope(node) for node in ranges.makers}
        self.prefix = prefix

    def __call__(self, op: Any) -> bool:
        if op.op_type == "const":
            return True
        if mil_scope(op, self.prefix) in self.kept:
            return False
        return not any(var.op is not None and var.op.op_type != "const"
                       and mil_scope(var.op, self.prefix) in self.makers for var in _inputs(op))


def _operations(block: Any) -> Iterator[Any]:
    for op in block.operations:
        yield op
        for inner in op.blocks:
            yield from _operations(inner)


def check_kept(mlmodel: Any, ranges: RangeCheck, prefix: Scope = ()) -> list[str]:
    """The ops the ML program computes in FP32 (``module/path/op_type (name)``), once every kept
    node's module is found among its ops and computes in FP32 there; otherwise the export is
    refused, naming the layers."""
    from coremltools.converters.mil.mil import types

    kept = {onnx_scope(node) for node in ranges.kept_nodes}
    present: set[Scope | None] = set()
    fp32, fp16_kept = [], []
    for op in _operations(mlmodel._mil_program.functions["main"]):
        if op.op_type in ("const", "cast"):
            continue
        scope = mil_scope(op, prefix)
        present.add(scope)
        dtypes = {types.builtin_to_string(out.dtype) for out in op.outputs if out.dtype is not None}
        if "fp32" in dtypes:
            fp32.append(f"{'/'.join((*(scope or ()), op.op_type))} ({op.name})")
        if scope in kept and "fp16" in dtypes:
            fp16_kept.append(scope)
    unmapped = [node for node in ranges.kept_nodes if onnx_scope(node) not in present]
    in_fp16 = [node for node in ranges.kept_nodes if onnx_scope(node) in fp16_kept]
    refused = unmapped or in_fp16
    if refused:
        why = "has no Core ML op" if unmapped else "still computes in FP16"
        raise EdgeIRError(
            f"expected every layer that overflows FP16 to be kept in FP32 by Core ML, found {len(refused)} that "
            f"{why}: {ranges.describe(refused)}; export with --precision fp32")
    return fp32
