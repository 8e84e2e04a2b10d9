"""Which CUDA GPUs this machine has, asked through torch (edgeir's way to CUDA), for the
engine builder and for the benchmark's machine description."""

from __future__ import annotations


def cuda_gpus() -> list[str]:
    """Names of the CUDA GPUs torch sees; empty where there is none or torch is CPU-only."""
    try:
        import torch
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
