"""Which convolution of one side is which of the other: names, keys and the matching.

A layer is a convolution (ONNX ``Conv`` / ``ConvTranspose``, OpenVINO ``Convolution``,
``GroupConvolution`` and their ``BackpropData`` forms, PyTorch ``conv2d`` /
``conv_transpose2d`` calls). The exporter names a node after the module being called when
it was made: ``/Encoder.0/layers/layers.0/main/main.0/Conv`` is the convolution of module
``Encoder.0.layers.0.main.0``, a second convolution in one module is ``.../Conv_1``, and
OpenVINO keeps those names as friendly names. So both sides are keyed by the names of
their scope, with ``sensitive._tokens`` collapsing the exporter's repeated container names
(``layers/layers.0`` is ``layers.0``); the key is the same however the graph was quantized
or converted, which is what lets an INT8 graph, an OpenVINO IR and PyTorch line up.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from edgeir.export.sensitive import _tokens

Key = tuple[str, ...]

NODE_OPS = ("Conv", "ConvTranspose")
"""ONNX op types that are layers, and the names the exporter gives their nodes."""
OPENVINO_OPS = ("Convolution", "GroupConvolution", "ConvolutionBackpropData", "GroupConvolutionBackpropData")
WITHOUT_BIASES = "/WithoutBiases"
"""OpenVINO splits an ONNX ``Conv`` into this convolution and an ``Add`` of the bias that
keeps the node's name."""


@dataclass(frozen=True)
class Layer:
    """One convolution of one side: its ``name`` as that side spells it (an ONNX node
    name, an OpenVINO friendly name, a module path) and its matching ``key``."""

    name: str
    key: Key

    @property
    def label(self) -> str:
        """The module path (``Encoder.0.layers.0.main.0``), the name reports use."""
        return ".".join(self.key)


def node_key(name: str) -> Key:
    """Key of an ONNX node or OpenVINO op named by the exporter: the tokens of its scope,
    plus the node's own name when it is not the first convolution of that scope."""
    name = name.removesuffix(WITHOUT_BIASES)
    scope, _, last = name.rpartition("/")
    key = _tokens(scope)
    return key if last in NODE_OPS else (*key, last)


def scope_key(module_path: str, calls: int = 0) -> Key:
    """Key of the ``calls``-th (from 0) convolution run while module ``module_path`` is
    the innermost one running, as the exporter would name its node (``Conv``,
    ``Conv_1``...)."""
    key = _tokens(module_path)
    return key if calls == 0 else (*key, f"Conv_{calls}")


@dataclass
class Matching:
    """Layers present on both sides, in the network's execution order, and the rest."""

    pairs: list[tuple[Layer, Layer]]
    only_a: list[Layer] = field(default_factory=list)
    only_b: list[Layer] = field(default_factory=list)


def match(a: Sequence[Layer], b: Sequence[Layer], order_by: str = "a") -> Matching:
    """Pair the layers of ``a`` and ``b`` whose keys are equal; a key that names two layers
    of one side is ambiguous and left unmatched. Pairs follow ``order_by``'s order (a graph's
    node order is its execution order)."""
    counts_a, counts_b = Counter(x.key for x in a), Counter(x.key for x in b)
    unique_a = {x.key: x for x in a if counts_a[x.key] == 1}
    unique_b = {x.key: x for x in b if counts_b[x.key] == 1}
    shared = unique_a.keys() & unique_b.keys()
    leading = a if order_by == "a" else b
    pairs = [(unique_a[x.key], unique_b[x.key]) for x in leading if x.key in shared]
    return Matching(pairs, [x for x in a if x.key not in shared], [x for x in b if x.key not in shared])
