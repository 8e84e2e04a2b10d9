"""ExecuTorch target ``executorch``: the export rewrite as an XNNPACK-delegated ``.pte``.

``torch.export`` captures the rewrite with height and width as multiples of 32 within the
request's range (a static export fixes them), ``to_edge_transform_and_lower`` hands every
subgraph XNNPACK takes to it, and the rest runs on ExecuTorch's portable kernels. The
program is verified here through ExecuTorch's own Python runtime, the one a phone links.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeir.export.calibration import calibration_lines
from edgeir.export.pipeline import Network, Product
from edgeir.export.request import ExportRequest
from edgeir.manifest import Manifest
from edgeir.shapes import InputShapes

if TYPE_CHECKING:
    from edgeir.calib.sources import CalibrationSet

log = logging.getLogger("edgeir")

FP32_MODULES = ("ExportableDynamicFilter", "ExportableDeepPoolLayer", "SCM")
"""Modules ``executorch-int8`` leaves unquantized. Over a range of sizes XNNPACK does not
take the last 1x1 convolution of each input-pyramid module (SCM, before its instance
norm) quantized, and ExecuTorch's runtime has no portable dequantization kernel: the
program would not run. The SCMs are 8 small convolutions at half and quarter size."""
SIDE_STEP = 32
"""Sides are captured as ``32 * k``: the network's size rule, which ``torch.export`` then
need not guard on."""


def check_options(request: ExportRequest) -> None:
    """No options of its own yet: the common ones are checked by the pipeline."""


def _import_quietly() -> None:
    from edgeir.quiet import executorch_import

    with executorch_import():
        import executorch.exir  # noqa: F401
        import executorch.runtime  # noqa: F401
        import torchao.quantization.pt2e.quantize_pt2e  # noqa: F401


def dynamic_shapes(shapes: InputShapes) -> dict[str, Any] | None:
    """``torch.export``'s description of the request's range: None where nothing varies (a
    static export, or a range of one size, as ``edgeir bench`` asks)."""
    from torch.export import Dim

    dims: dict[int, Any] = {}
    if not shapes.static:
        for axis, name, low, high in ((2, "rows32", shapes.min[0], shapes.max[0]),
                                      (3, "cols32", shapes.min[1], shapes.max[1])):
            if low != high:
                dims[axis] = SIDE_STEP * Dim(name, min=low // SIDE_STEP, max=high // SIDE_STEP)
        if shapes.max_batch > 1:
            dims[0] = Dim("batch", min=1, max=shapes.max_batch)
    return {"x": dims} if dims else None


def lower(module: Any, shapes: InputShapes, example: np.ndarray) -> tuple[Any, dict[str, Any]]:
    """(the ExecuTorch program, what was delegated) for ``module`` (the rewrite in eval
    mode, or its quantized graph) at ``shapes``."""
    import torch

    _import_quietly()
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.devtools.backend_debug import get_delegation_info
    from executorch.exir import to_edge_transform_and_lower
    from torch.export import export

    log.info("capturing the export rewrite with torch.export (%s)", shapes.describe())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch's pytree deprecations, once per node
        captured = export(module, (torch.from_numpy(example),), dynamic_shapes=dynamic_shapes(shapes))
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
        # The output tensor is the method's own buffer, overwritten by the next call: copied.
        return self._method.execute([torch.from_numpy(np.ascontiguousarray(x))])[0].numpy().copy()

    def save(self, path: Path) -> None:
        path.write_bytes(self.buffer)

    def lines(self, manifest: Manifest) -> list[str]:
        delegation = manifest.details["delegation"]
        return [f"  xnnpack   {delegation['delegated_subgraphs']} subgraphs delegated; "
                f"{delegation['portable_nodes']} nodes on portable kernels"] + calibration_lines(manifest.details)


def quantize(rewrite: Any, shapes: InputShapes, example: np.ndarray, fit: CalibrationSet, batch: int) -> Any:
    """The rewrite as a PT2E INT8 graph module calibrated on ``fit``."""
    import torch

    _import_quietly()
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer,
        get_symmetric_quantization_config,
    )
    from torch.export import export
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    from edgeir.models.layers import SCM
    from edgeir.models.rewrite import ExportableDeepPoolLayer, ExportableDynamicFilter
    from edgeir.progress import progress_bar

    quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
    for kept in (ExportableDynamicFilter, ExportableDeepPoolLayer, SCM):  # FP32_MODULES
        quantizer.set_module_type(kept, None)
    log.info("capturing the export rewrite for PT2E quantization")
    captured = export(rewrite.eval(), (torch.from_numpy(example),), dynamic_shapes=dynamic_shapes(shapes))
    prepared = prepare_pt2e(captured.module(), quantizer)
    batches = list(fit.batches(batch, whole=True))
    with progress_bar("frames") as bar, torch.no_grad():
        task = bar.add_task("calibrating ExecuTorch INT8", total=len(batches) * batch)
        for x in batches:
            prepared(torch.from_numpy(x))
            bar.advance(task, batch)
    return convert_pt2e(prepared)


def make(request: ExportRequest, network: Network) -> ExecuTorchProduct:
    example = np.zeros((network.batch, 3, *network.size), np.float32)
    if request.target.precision != "int8":
        program, delegated = lower(network.rewrite, request.shapes, example)
        return ExecuTorchProduct(runtime="ExecuTorch (XNNPACK) on this CPU", versions=("executorch",),
                                 details={"delegation": delegated}, buffer=program.buffer)
    from edgeir.export.calibration import calibration_frames, describe
    from edgeir.export.parity import held_out_agreement

    fit, held_out = calibration_frames(request, network.size, network.batch)
    quantized = quantize(network.rewrite, request.shapes, example, fit, network.batch)
    program, delegated = lower(quantized, request.shapes, example)
    product = ExecuTorchProduct(runtime="ExecuTorch (XNNPACK) on this CPU", versions=("executorch", "torchao"),
                                held_out=held_out, precision="int8", buffer=program.buffer)
    product.details = {
        "delegation": delegated, "calibration": describe(fit, held_out), "calibration_method": "minmax",
        "scheme_summary": "XNNPACK symmetric INT8, per-channel weights",
        "fp32_modules": list(FP32_MODULES),
        **held_out_agreement(network.rewrite_output, product.run, held_out, network.batch),
    }
    log.info("INT8 vs FP32 on %d held-out frames: %.2f dB", len(held_out), product.details["psnr_vs_fp32_graph_db"])
    return product
