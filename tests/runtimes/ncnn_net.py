"""A tiny ncnn graph written by hand (two 3x3 convolutions, 3 -> 8 -> 3, any H x W), with
the PyTorch reference of what it computes: for the tests of the ncnn backend and of ncnn
INT8, in milliseconds and without pnnx."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

PARAM = """7767517
4 4
Input                    in0                      0 1 in0
Convolution              conv_0                   1 1 in0 c0 0=8 1=3 4=1 5=1 6=216
ReLU                     relu_0                   1 1 c0 r0
Convolution              conv_1                   1 1 r0 out0 0=3 1=3 4=1 5=1 6=216
"""


def weights(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [((rng.standard_normal((8, 3, 3, 3)) / 5).astype(np.float32), rng.standard_normal(8).astype(np.float32) / 10),
            ((rng.standard_normal((3, 8, 3, 3)) / 8).astype(np.float32), rng.standard_normal(3).astype(np.float32) / 10)]


def write(folder: Path, name: str = "tiny") -> Path:
    """``folder/name.param`` and its ``.bin`` (FP32 weights, tagged as pnnx writes them)."""
    param = folder / f"{name}.param"
    param.write_text(PARAM)
    data = b"".join(struct.pack("<I", 0) + w.tobytes() + b.tobytes() for w, b in weights())
    param.with_suffix(".bin").write_bytes(data)
    return param


def reference(x: np.ndarray) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    (w0, b0), (w1, b1) = (tuple(torch.from_numpy(a) for a in pair) for pair in weights())
    with torch.no_grad():
        hidden = F.relu(F.conv2d(torch.from_numpy(x), w0, b0, padding=1))
        return F.conv2d(hidden, w1, b1, padding=1).numpy()
