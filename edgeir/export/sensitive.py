"""The part of ConvIR that INT8 hurts most, kept in floating point by default.

Measured with NNCF on the demo weights (docs/benchmarks.md, "Which layers INT8 hurts"):
quantizing every convolution of ConvIR-S cost 0.76 dB PSNR at 256x256 and 0.29 dB at
720x1280; leaving only the multi-scale dynamic-filter module of the last full-resolution
decoder block in floating point (13 of 142 convolutions) brought that to 0.05 and 0.02 dB
while keeping most of the speed-up. The block is found by name, so the same rule holds for
S, B and L, whose decoders differ only in their number of blocks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

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
