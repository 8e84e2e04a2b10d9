"""Q/DQ INT8 for TensorRT with NVIDIA ModelOpt's ONNX quantizer (``trt-int8``).

ModelOpt puts int8 Q/DQ with zero points 0 on the convolutions, calibrated on the user's
frames, and converts the rest of the graph to FP16, the form TensorRT 11 (always strongly
typed) needs to run it fast. ``benchmarks/trt_int8_quantizers.py`` compares it with ONNX
Runtime's quantizer in its ``trt`` scheme and with ModelOpt's entropy ranges
(docs/benchmarks.md).

ModelOpt is installed without its ``onnx`` extra, which would pull ``onnxruntime-gpu``
over the CPU ``onnxruntime`` (both install the module ``onnxruntime``); the ``tensorrt``
extra lists the parts of that extra ModelOpt's ONNX tools import.
"""

from __future__ import annotations

import contextlib
import logging
import re
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.quiet import quietly

log = logging.getLogger("edgeir")

QUANTIZED_OP_TYPES = ("Conv",)
CALIBRATION_METHODS = {"minmax": "max", "entropy": "entropy"}
"""edgeir's ``--calib-method`` names and ModelOpt's."""


@contextlib.contextmanager
def ort_quantization_restored() -> Iterator[None]:
    """ModelOpt's quantizer monkeypatches ONNX Runtime's calibrators and quantizers when it
    runs and never undoes it; afterwards ONNX Runtime's own quantizer (``onnx-int8``) in
    the same process fails. Snapshot every module and class of
    ``onnxruntime.quantization`` and put back whatever changed or was added."""
    import inspect
    import sys

    import onnxruntime.quantization  # noqa: F401  (loads the modules to snapshot)

    def owners() -> list[Any]:
        modules = [m for n, m in list(sys.modules.items())
                   if n.startswith("onnxruntime.quantization") and m is not None]
        classes = [c for m in modules for c in vars(m).values()
                   if inspect.isclass(c) and c.__module__.startswith("onnxruntime.quantization")]
        return [*modules, *classes]

    saved = [(owner, dict(vars(owner))) for owner in owners()]
    try:
        yield
    finally:
        for owner, before in saved:
            for name, value in before.items():
                if vars(owner).get(name) is not value:
                    setattr(owner, name, value)
            if inspect.isclass(owner):  # an override added to a subclass (modules keep theirs:
                for name in [n for n in vars(owner) if n not in before]:  # submodules load late)
                    delattr(owner, name)


def exact_names(names: Sequence[str]) -> list[str]:
    """ModelOpt takes node-name regexes; these match exactly the names given."""
    return [f"^{re.escape(name)}$" for name in names]


def modelopt_logging() -> Any:
    """ModelOpt's ``configure_logging``, or the install command when ModelOpt is missing."""
    try:
        from modelopt.onnx.logging_config import configure_logging
    except ImportError:
        raise EdgeIRError('TRT-ready graphs need NVIDIA ModelOpt, which is not installed: '
                          'pip install "edgeir[tensorrt]"') from None
    return configure_logging


def modelopt_failed(step: str, exc: Exception) -> EdgeIRError:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return EdgeIRError(f"expected ModelOpt to {step}, found {type(exc).__name__}: {first}; nothing was written")


def quantize(
    model: Any, frames: np.ndarray, batch: int, method: str = "minmax", keep_fp32: Sequence[str] = (),
    fp32_op_types: Sequence[str] = (),
) -> tuple[Any, dict[str, Any]]:
    """(Q/DQ int8 ModelProto with FP16 elsewhere but ``fp32_op_types``, what was done),
    calibrated on ``frames`` (N x 3 x H x W, whole batches of ``batch``); ``keep_fp32``
    names nodes left unquantized."""
    import onnx

    if method not in CALIBRATION_METHODS:
        raise EdgeIRError(f"expected --calib-method {' or '.join(CALIBRATION_METHODS)} for trt-int8 "
                          f"(ModelOpt's methods), found {method!r}")
    modelopt_logging()
    from modelopt.onnx.quantization import quantize as modelopt_quantize

    name = model.graph.input[0].name
    channels, h, w = frames.shape[1:]
    # CRITICAL: without a GPU ModelOpt logs "Failed to get GPU count" as an ERROR and goes on
    # on the CPU, as asked; real failures raise.
    level = "DEBUG" if log.getEffectiveLevel() <= logging.DEBUG else "CRITICAL"
    log.info("quantizing to INT8 with ModelOpt (%s ranges, %d frames; FP16 elsewhere)", method, len(frames))
    with tempfile.TemporaryDirectory(prefix="edgeir-trt-") as tmp:
        source, target = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, str(source))
        with quietly("modelopt"), ort_quantization_restored():
            try:
                modelopt_quantize(
                    str(source), "int8", calibration_data={name: frames},
                    calibration_method=CALIBRATION_METHODS[method], calibration_eps=["cpu"],
                    calibration_shapes=f"{name}:{batch}x{channels}x{h}x{w}",
                    op_types_to_quantize=list(QUANTIZED_OP_TYPES), nodes_to_exclude=exact_names(keep_fp32),
                    op_types_to_exclude_fp16=list(fp32_op_types), high_precision_dtype="fp16",
                    output_path=str(target), log_level=level,
                )
            except Exception as exc:
                raise modelopt_failed("quantize the graph to INT8", exc) from exc
        quantized = onnx.load(str(target))
    onnx.checker.check_model(quantized, full_check=True)
    convs = [n for n in quantized.graph.node if n.op_type in QUANTIZED_OP_TYPES]
    return quantized, {
        "tool": "NVIDIA ModelOpt ONNX quantization",
        "calibration_method": method,
        "quantized_op_types": list(QUANTIZED_OP_TYPES),
        "kept_fp32": list(keep_fp32),
        "quantized_convolutions": sum(1 for n in convs if _has_dequantized_weight(quantized, n)),
        "convolutions": len(convs),
        "fp32_op_types": list(fp32_op_types),
        "high_precision": "fp16",
    }


def _has_dequantized_weight(model: Any, node: Any) -> bool:
    producers = {o: n.op_type for n in model.graph.node for o in n.output}
    return len(node.input) > 1 and producers.get(node.input[1]) == "DequantizeLinear"
