"""What a Core ML ML program really computes in, read from its spec (no macOS needed).

The precision a user asked for is a request to the converter; the ops it wrote are the
record. Every manifest counts them, and the tests assert on the count.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

BOUNDARY_OPS = frozenset({"cast"})
"""Casts convert FP32 inputs to the compute type and back at the outputs."""
DATA_OPS = frozenset({"const", "constexpr_affine_dequantize", "constexpr_blockwise_shift_scale"})
"""Ops that hold weights and constants, not computation."""
QUANT_OPS = frozenset({"quantize", "dequantize"})
"""Activation quantization (W8A8): integer tensors by design."""


def main_block(spec: Any) -> Any:
    function = spec.mlProgram.functions["main"]
    return function.block_specializations[function.opset]


def compute_dtypes(spec: Any) -> Counter[tuple[str, str]]:
    """(op type, output dtype) -> count, over the ops that compute (not constants, weight
    decompression or the I/O casts)."""
    from coremltools.proto import MIL_pb2

    found: Counter[tuple[str, str]] = Counter()
    for op in main_block(spec).operations:
        if op.type in DATA_OPS or op.type in BOUNDARY_OPS:
            continue
        for output in op.outputs:
            dtype = MIL_pb2.DataType.Name(output.type.tensorType.dataType)
            found[(op.type, dtype)] += 1
    return found


def summary(spec: Any) -> dict[str, Any]:
    """Op dtypes and weight storage, for the manifest: ``compute`` maps dtype -> op count,
    ``not_in_compute_dtype`` lists op types outside the dominant float type."""
    dtypes = compute_dtypes(spec)
    by_dtype: Counter[str] = Counter()
    for (_, dtype), count in dtypes.items():
        by_dtype[dtype] += count
    floats = {d: n for d, n in by_dtype.items() if d.startswith("FLOAT")}
    main = max(floats, key=floats.__getitem__) if floats else None
    other = sorted({op for (op, dtype) in dtypes if dtype != main and op not in QUANT_OPS})
    ops = Counter(op.type for op in main_block(spec).operations)
    return {
        "opset": spec.mlProgram.functions["main"].opset,
        "compute_dtype": main,
        "compute": dict(sorted(by_dtype.items())),
        "not_in_compute_dtype": other,
        "weights_8bit": ops.get("constexpr_affine_dequantize", 0) + ops.get("constexpr_blockwise_shift_scale", 0),
        "activation_quantize_ops": ops.get("quantize", 0),
    }


def weights_size(package: str | Path) -> int:
    """Bytes of the package's weight files (``Data/com.apple.CoreML/weights``)."""
    root = Path(package)
    return sum(p.stat().st_size for p in root.rglob("weights/*") if p.is_file())
