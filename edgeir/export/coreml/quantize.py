"""8-bit Core ML models: W8 (weights) and W8A8 (weights and activations).

W8 quantizes the converted program's weights with ``linear_quantize_weights`` (linear
symmetric, per output channel); the ops still compute in FP16, so it halves the package
and changes little else. W8A8 needs activation ranges, which Core ML can only measure by
predicting (macOS); so the ranges are calibrated on the PyTorch side with
``coremltools.optimize.torch``'s ``LinearQuantizer`` (observers only, no training), and the
finalized module, with its quantize/dequantize ops, is what gets converted. On Linux both are
measured against FP32 in PyTorch: W8 through ``PostTrainingQuantizer``, the same scheme on the
same weights, and W8A8 through the calibrated module itself.
"""

from __future__ import annotations

import copy
import logging
import warnings
from typing import Any

import torch
from torch import nn
from torch.ao.quantization import disable_fake_quant, enable_fake_quant

from edgeir.calib.sources import CalibrationSet
from edgeir.progress import progress_bar
from edgeir.quiet import quietly

log = logging.getLogger("edgeir")

WEIGHT_THRESHOLD = 2048
"""Weights with fewer elements stay FP16 (coremltools' default: their bytes do not matter)."""
QUANTIZED_MODULES = (nn.Conv2d,)
"""W8A8 quantizes convolutions (their inputs, weights and outputs), as the other INT8
targets do: measured on ONNX Runtime and OpenVINO, quantizing the dynamic filters'
element-wise ops costs PSNR for little speed (docs/benchmarks.md)."""


def quantize_weights(mlmodel: Any) -> Any:
    import coremltools.optimize.coreml as cto

    config = cto.OptimizationConfig(global_config=cto.OpLinearQuantizerConfig(
        mode="linear_symmetric", dtype="int8", granularity="per_channel",
        weight_threshold=WEIGHT_THRESHOLD))
    log.info("quantizing weights to 8 bits (linear symmetric, per channel)")
    with quietly("coremltools"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cto.linear_quantize_weights(mlmodel, config=config)


def weight_quantized_twin(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose convolution weights went through the same 8-bit round trip
    as :func:`quantize_weights` (weights under the threshold left alone), to measure W8 on
    Linux. Weights the converter computes from several parameters (the dynamic filters'
    folded BatchNorm) are quantized after folding in Core ML and before it here."""
    from coremltools.optimize.torch.quantization import (
        ModulePostTrainingQuantizerConfig,
        PostTrainingQuantizer,
        PostTrainingQuantizerConfig,
    )

    small = {name: None for name, m in module.named_modules()
             if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) and m.weight.numel() < WEIGHT_THRESHOLD}
    config = PostTrainingQuantizerConfig(
        global_config=ModulePostTrainingQuantizerConfig(
            weight_dtype="int8", granularity="per_channel", quantization_scheme="symmetric"),
        module_name_configs=small,
    )
    with quietly("coremltools"):
        return PostTrainingQuantizer(copy.deepcopy(module), config).compress(inplace=True)


def calibrate_w8a8(module: nn.Module, frames: CalibrationSet, batch: int) -> nn.Module:
    """The module with 8-bit weights and activation ranges observed on ``frames``
    (min/max), finalized for conversion."""
    import coremltools.optimize.torch.quantization as cq

    op_config = cq.ModuleLinearQuantizerConfig(
        quantization_scheme="symmetric", activation_observer="min_max", weight_per_channel=True)
    config = cq.LinearQuantizerConfig(
        global_config=None, module_type_configs={kind: op_config for kind in QUANTIZED_MODULES})
    example = torch.from_numpy(next(frames.batches(batch, whole=True)))
    log.info("preparing W8A8 calibration (coremltools.optimize.torch LinearQuantizer)")
    with quietly("coremltools"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantizer = cq.LinearQuantizer(module, config)
        prepared = quantizer.prepare(example_inputs=(example,))
        prepared.eval()
        # Post-training: the observers see FP32 activations, as in PyTorch's own PTQ, and
        # simulating quantization on the way (QAT's job) would only slow calibration.
        prepared.apply(disable_fake_quant)
        batches = list(frames.batches(batch, whole=True))
        with progress_bar("frames") as bar, torch.no_grad():
            task = bar.add_task("calibrating W8A8", total=len(batches) * batch)
            for x in batches:
                prepared(torch.from_numpy(x))
                bar.advance(task, batch)
        prepared.apply(enable_fake_quant)
        return quantizer.finalize(inplace=False)
