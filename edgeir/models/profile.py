"""Size and cost of a ConvIR, computed without running it (meta tensors)."""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from edgeir.models.convir import ConvIR
from edgeir.models.rewrite import exportable
from edgeir.models.size import check_size


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(variant: str, task: str, height: int, width: int, batch: int = 1) -> int:
    """Multiply-accumulates of the deployed (full-scale) network at this input size.

    Counted by PyTorch's FlopCounterMode on meta tensors, so it costs no memory or time
    even at 4K; only convolutions count, which is where the work is."""
    with torch.device("meta"):
        model = ConvIR(variant, task).eval()
        check_size(height, width, model.dilations, model.label)
        x = torch.empty(batch, 3, height, width)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        exportable(model)(x)
    return counter.get_total_flops() // 2
