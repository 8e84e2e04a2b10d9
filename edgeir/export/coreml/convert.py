"""From the export rewrite to a Core ML ML program: tracing, input declarations, conversion.

coremltools converts a TorchScript trace. The rewrite traces with every size taken from
module attributes or constant slice ends (the upstream module fails in coremltools on an
``int`` op from shape arithmetic), so one trace serves fixed, enumerated and range shapes.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from edgeir.models import INPUT_NAME, OUTPUT_NAMES
from edgeir.quiet import quietly
from edgeir.shapes import InputShapes

log = logging.getLogger("edgeir")

OUTPUT_NAME = OUTPUT_NAMES[-1]
DEPLOYMENT_TARGETS = {"iOS16": "iOS 16 / macOS 13", "iOS17": "iOS 17 / macOS 14"}
"""ML programs with FP16 I/O types and 8-bit weights (``constexpr_affine_dequantize``) need
iOS 16; activation quantize/dequantize ops need iOS 17."""


class ImageIO(nn.Module):
    """Pixels out: Core ML image outputs read 0..255, so the restored [0, 1] image is clamped
    and scaled here; the input's 1/255 scale is declared on the ``ImageType`` instead."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self.network(x), 0.0, 1.0) * 255.0


def example_input(shapes: InputShapes) -> torch.Tensor:
    """What the trace runs on: the static size, or the smallest (the trace reads no sizes,
    so it serves them all), at the batch the model is declared for."""
    size = shapes.opt if shapes.static else shapes.min
    return torch.rand(shapes.max_batch, 3, *size, generator=torch.Generator().manual_seed(0))


def trace(module: nn.Module, shapes: InputShapes) -> torch.jit.ScriptModule:
    log.info("tracing the export rewrite for Core ML (%s)", shapes.describe())
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        return torch.jit.trace(module.eval(), example_input(shapes))


def _shape(ct: Any, shapes: InputShapes) -> Any:
    batch = shapes.max_batch
    if shapes.static:
        return (batch, 3, *shapes.opt)
    if shapes.sizes:
        return ct.EnumeratedShapes(shapes=[(batch, 3, h, w) for h, w in shapes.sizes],
                                   default=(batch, 3, *shapes.opt))
    dims = [ct.RangeDim(lower_bound=lo, upper_bound=hi, default=opt)
            for lo, opt, hi in zip(shapes.min, shapes.opt, shapes.max)]
    return ct.Shape(shape=(batch, 3, *dims))


def io_types(shapes: InputShapes, image_input: bool) -> tuple[list[Any], list[Any]]:
    """(inputs, outputs) for ``ct.convert``: float32 tensors, as every edgeir runtime takes
    them, or RGB images (input scaled by 1/255) that a camera pipeline feeds directly."""
    ct = import_coremltools()

    shape = _shape(ct, shapes)
    if image_input:
        rgb = ct.colorlayout.RGB
        return ([ct.ImageType(name=INPUT_NAME, shape=shape, scale=1 / 255.0, color_layout=rgb)],
                [ct.ImageType(name=OUTPUT_NAME, color_layout=rgb)])
    return ([ct.TensorType(name=INPUT_NAME, shape=shape, dtype=np.float32)],
            [ct.TensorType(name=OUTPUT_NAME, dtype=np.float32)])


def convert(traced: torch.jit.ScriptModule, shapes: InputShapes, precision: str,
            image_input: bool, deployment: str, keep: Callable[[Any], bool] | None = None) -> Any:
    """An ML program computing in ``precision`` (FP16 by default: what the GPU and the
    Neural Engine run); with FP16, ``keep`` (an op selector, True for FP16) leaves the ops
    it refuses in FP32."""
    ct = import_coremltools()

    inputs, outputs = io_types(shapes, image_input)
    log.info("converting to a Core ML ML program (%s compute, %s, %s)", precision.upper(),
             shapes.describe(), DEPLOYMENT_TARGETS[deployment])
    if precision != "fp16":
        compute = ct.precision.FLOAT32
    else:
        compute = ct.precision.FLOAT16 if keep is None else ct.transform.FP16ComputePrecision(op_selector=keep)
    with quietly("coremltools"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ct.convert(
            traced, inputs=inputs, outputs=outputs, convert_to="mlprogram",
            compute_precision=compute, minimum_deployment_target=getattr(ct.target, deployment),
        )


def import_coremltools() -> Any:
    """coremltools, imported without its import-time warnings, which on Linux are expected
    (no Core ML framework to load, untested torch and scikit-learn versions); shown at
    edgeir's debug level."""
    with quietly("coremltools", logging.ERROR):
        import coremltools

    return coremltools
