"""Shared by the benchmark scripts (run from this folder's parent: python benchmarks/X.py)."""

from __future__ import annotations

import torch

from edgeir.bench.machine import cpu_name

__all__ = ["activate_dynamic_branches", "cpu_name"]


def activate_dynamic_branches(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-zero gains for the dynamic filters (zero at init), as in a trained model, so
    that every path does its real work; speed does not depend on the values."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(("lamb_l", "lamb_h", "gamma", "inside_all")):
                param.copy_(torch.rand(param.shape, generator=generator) - 0.5)
    return model
