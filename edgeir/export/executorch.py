"""ExecuTorch target ``executorch``: the export rewrite as an XNNPACK-delegated ``.pte``.

``torch.export`` captures the rewrite with height and width as multiples of 32 within the
request's range (a static export fixes them), ``to_edge_transform_and_lower`` hands every
subgraph XNNPACK takes to it, and the rest runs on ExecuTorch's portable kernels. The
program is verified here through ExecuTorch's own Python runtime, the one a phone links.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.export.pipeline import Network, Product
from edgeir.export.request import ExportRequest
from edgeir.shapes import InputShapes

log = logging.getLogger("edgeir")

SIDE_STEP = 32
"""Sides are captured as ``32 * k``: the network's size rule, which ``torch.export`` then
need not guard on."""


def check_options(request: ExportRequest) -> None:
    """No options of its own yet: the common ones are checked by the pipeline."""


def dynamic_shapes(shapes: InputShapes) -> dict[str, Any] | None:
    """``torch.export``'s description of the request's range: None for a static export."""
    if shapes.static:
        return None
    from torch.export import Dim

    (min_h, min_w), (max_h, max_w) = shapes.min, shapes.max
    rows = Dim("rows32", min=min_h // SIDE_STEP, max=max_h // SIDE_STEP)
    cols = Dim("cols32", min=min_w // SIDE_STEP, max=max_w // SIDE_STEP)
    dims: dict[int, Any] = {2: SIDE_STEP * rows, 3: SIDE_STEP * cols}
    if shapes.max_batch > 1:
        dims[0] = Dim("batch", min=1, max=shapes.max_batch)
    return {"x": dims}


def lower(rewrite: Any, shapes: InputShapes, example: np.ndarray) -> tuple[Any, dict[str, Any]]:
    """(the ExecuTorch program, what was delegated) for the rewrite at ``shapes``."""
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.devtools.backend_debug import get_delegation_info
    from executorch.exir import to_edge_transform_and_lower
    from torch.export import export

    log.info("capturing the export rewrite with torch.export (%s)", shapes.describe())
    captured = export(rewrite.eval(), (torch.from_numpy(example),), dynamic_shapes=dynamic_shapes(shapes))
    log.info("lowering to XNNPACK")
    edge = to_edge_transform_and_lower(captured, partitioner=[XnnpackPartitioner()])
    info = get_delegation_info(edge.exported_program().graph_module)
    delegated = {"delegated_subgraphs": info.num_delegated_subgraphs,
                 "delegated_nodes": info.num_delegated_nodes,
                 "portable_nodes": info.num_non_delegated_nodes}
    return edge.to_executorch(), delegated


@dataclass
class ExecuTorchProduct(Product):
    buffer: bytes = b""
    _method: Any = None
    _program: Any = None

    def run(self, x: np.ndarray) -> np.ndarray:
        import torch

        if self._method is None:
            from executorch.runtime import Runtime

            # The runtime reads the program from the buffer for as long as it runs it: both
            # are kept (a freed buffer crashes the process).
            self._program = Runtime.get().load_program(self.buffer)
            self._method = self._program.load_method("forward")
        return self._method.execute([torch.from_numpy(np.ascontiguousarray(x))])[0].numpy()

    def save(self, path: Path) -> None:
        path.write_bytes(self.buffer)


def make(request: ExportRequest, network: Network) -> ExecuTorchProduct:
    example = np.zeros((network.batch, 3, *network.size), np.float32)
    program, delegated = lower(network.rewrite, request.shapes, example)
    return ExecuTorchProduct(runtime="ExecuTorch (XNNPACK) on this CPU", versions=("executorch",),
                             details={"delegation": delegated}, buffer=program.buffer)
