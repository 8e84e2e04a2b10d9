"""The part of ConvIR that INT8 hurts most, kept in floating point by default.

With NNCF, most of ConvIR's INT8 loss comes from the multi-scale dynamic-filter module of
the last full-resolution decoder block, a small share of its convolutions: leaving that
module in floating point keeps most of the speed-up and little of the loss (figures in
docs/benchmarks.md, "Which layers INT8 hurts"). The block is found by name, so the same
rule holds for S, B and L, whose decoders differ only in their number of blocks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from edgeir.errors import EdgeIRError

_LAST_DECODER_MODULE = re.compile(r"^/Decoder\.2/layers/layers\.(\d+)/main/main\.1/")


def sensitive_scopes(node_names: Iterable[str]) -> list[str]:
    """Name scopes to keep in floating point: the dynamic-filter module of the last block of
    the full-resolution decoder level. Empty when the graph has no such module."""
    blocks = {int(m.group(1)) for name in node_names if (m := _LAST_DECODER_MODULE.match(name))}
    if not blocks:
        return []
    return [f"/Decoder.2/layers/layers.{max(blocks)}/main/main.1"]


NO_KEEP = "none"
"""``--keep-fp32 none``: quantize everything the quantizer would, the sensitive block too."""


def keep_fp32(given: Sequence[str] | None, default: Sequence[str]) -> list[str]:
    """What stays in floating point: the user's ``--keep-fp32`` list when given (it replaces
    the target's default, and ``none`` keeps nothing), else the default."""
    if given is None:
        return list(default)
    if list(given) == [NO_KEEP]:
        return []
    return list(given)


def _tokens(path: str) -> tuple[str, ...]:
    """A module path or a scope as its names: the exporter names a called container's child
    ``layers.3`` under the container's own ``layers``, so a name repeated at once is one."""
    tokens: list[str] = []
    for token in re.split(r"[/.]", path):
        if token and (not tokens or tokens[-1] != token):
            tokens.append(token)
    return tuple(tokens)


def _is_node_name(name: str) -> bool:
    """``Conv``, ``Add_3``, ``Slice_11_output_0``: the exporter names a node after its ONNX
    op type (OpenVINO keeps those names)."""
    import onnx.defs

    word = re.match(r"[A-Za-z]+", name)
    return word is not None and onnx.defs.has(word.group(0))


def check_keep_names(given: Sequence[str] | None, module_names: Iterable[str],
                     is_op_type: Callable[[str], bool], runtime: str) -> None:
    """Refuse a ``--keep-fp32`` name that cannot match the graph, before any trace: an op
    type the runtime does not have, or a scope (``/Decoder.2``) or node name
    (``/Decoder.2/layers/layers.3/main/main.1/conv/Conv``) that lies under no module of the
    network. The exporter's scopes are the module paths with ``/`` between called modules,
    so both are compared as their sequence of names. The exact check runs again on the
    traced graph."""
    if given is None:
        return
    if NO_KEEP in given and len(given) > 1:
        raise EdgeIRError(f"expected --keep-fp32 {NO_KEEP} alone or a list of names, found {' '.join(given)}")
    if list(given) == [NO_KEEP]:
        return
    scopes = {_tokens(name) for name in module_names}
    for item in given:
        if not item.startswith("/"):
            if is_op_type(item):
                continue
            raise EdgeIRError(
                f"expected --keep-fp32 to name a scope or node (starting with /, e.g. /Decoder.2) or "
                f"an op type of {runtime}, found {item!r}, which is neither"
            )
        parts = item.strip("/").split("/")
        if _tokens(item) in scopes or _tokens("/".join(parts[:-1])) in scopes and _is_node_name(parts[-1]):
            continue
        tops = sorted({name.split(".")[0] for name in module_names if name})
        raise EdgeIRError(
            f"expected --keep-fp32 to name a scope or node of the network, found {item!r}, which lies "
            f"under no module (top-level modules: {', '.join(tops)})"
        )


def _is_onnx_op(name: str) -> bool:
    import onnx.defs

    return bool(onnx.defs.has(name))


def _is_openvino_op(name: str) -> bool:
    """OpenVINO names op types in CamelCase (``GroupConvolution``), its opset modules the
    functions that make them in snake case (``group_convolution``)."""
    import importlib
    import pkgutil

    import openvino

    wanted = name.lower()
    for module in pkgutil.iter_modules(openvino.__path__):
        if module.name.startswith("opset") and module.name[5:].isdigit():
            functions = vars(importlib.import_module(f"openvino.{module.name}"))
            if any(f.replace("_", "") == wanted for f in functions if not f.startswith("_")):
                return True
    return False


OP_TYPE_CHECKS = {"ONNX": _is_onnx_op, "OpenVINO": _is_openvino_op}


def check_module_names(request: Any, runtime: str) -> None:
    """``--keep-fp32`` of an export request against the network's modules (built without
    weights: the names are the variant's) and the runtime's op types."""
    from edgeir.models import create_model, exportable

    given = request.options.get("keep_fp32")
    if given is None:
        return
    names = [name for name, _ in exportable(create_model(request.variant, request.task)).named_modules()]
    check_keep_names(given, names, OP_TYPE_CHECKS[runtime], runtime)

