"""The table of targets: every name `edgeir export --target` accepts, in one place.

A row says what the target produces, at which precision, which runtime opens it, which
extra it needs (checked before any work starts) and which target-specific options it
accepts; an option it does not accept is an error, never silently dropped.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeir.errors import EdgeIRError

COMMON_OPTIONS = frozenset({"variant", "task", "weights", "output", "shape", "dynamic", "batch", "overwrite"})


@dataclass(frozen=True)
class Target:
    name: str
    suffix: str
    precision: str
    runtime: str
    extra: str
    requires: tuple[str, ...]
    """Modules the export needs; all must be importable."""
    options: frozenset[str]
    """Target-specific options, by their Python name (``opset`` for ``--opset``)."""
    exporter: str
    """``module:function`` that performs the export, imported only when used."""
    summary: str
    default_shapes: str = "dynamic"
    """The input shapes when none are given: ``dynamic`` (a range) or ``enumerated``."""
    companions: tuple[str, ...] = ()
    """Other files the export writes beside the artifact, as endings that replace its
    suffix (``.bin``: OpenVINO's weights; ``.trt.onnx``: the graph an engine is built from)."""

    def outputs(self, artifact: Path) -> list[Path]:
        """Every path an export to ``artifact`` writes, manifests included, so that all of
        them are checked before any work."""
        from edgeir.manifest import manifest_path

        paths = [artifact, manifest_path(artifact)]
        for ending in self.companions:
            companion = artifact.with_name(artifact.stem + ending)
            paths += [companion] if ending == ".bin" else [companion, manifest_path(companion)]
        return paths


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "onnx", ".onnx", "fp32", "onnxruntime", "onnx",
            ("onnx", "onnxruntime", "onnxslim"), frozenset({"opset"}),
            "edgeir.export.onnx:export_onnx",
            "ONNX graph of the export rewrite, simplified, FP32",
        ),
        Target(
            "onnx-fp16", ".onnx", "fp16", "onnxruntime", "onnx",
            ("onnx", "onnxruntime", "onnxslim"), frozenset({"opset"}),
            "edgeir.export.onnx:export_onnx",
            "ONNX graph with FP16 weights and activations, FP32 inputs/outputs and "
            "FP32 normalisation, means and the input-image residual",
        ),
        Target(
            "onnx-int8", ".onnx", "int8", "onnxruntime", "onnx",
            ("onnx", "onnxruntime", "onnxslim"),
            frozenset({"opset", "calib", "calib_frames", "calib_method", "keep_fp32", "int8_scheme"}),
            "edgeir.export.onnx:export_onnx",
            "Q/DQ INT8 ONNX calibrated on your frames (--calib); --int8-scheme cpu (uint8 "
            "activations, fastest on ONNX Runtime) or trt (symmetric int8, for TensorRT)",
        ),
        Target(
            "openvino", ".xml", "fp32", "openvino", "openvino",
            ("onnx", "onnxslim", "openvino"), frozenset(),
            "edgeir.export.openvino:export_openvino",
            "OpenVINO IR, FP32 weights; the manifest pins f32 inference (OpenVINO's CPU "
            "default is bf16 where the CPU has it)",
            companions=(".bin",),
        ),
        Target(
            "openvino-fp16", ".xml", "fp16", "openvino", "openvino",
            ("onnx", "onnxslim", "openvino"), frozenset(),
            "edgeir.export.openvino:export_openvino",
            "OpenVINO IR with FP16 weights, computed in the device's default precision "
            "(reported at load)",
            companions=(".bin",),
        ),
        Target(
            "openvino-int8", ".xml", "int8", "openvino", "openvino",
            ("onnx", "onnxslim", "openvino", "nncf"),
            frozenset({"calib", "calib_frames", "keep_fp32", "max_psnr_drop"}),
            "edgeir.export.openvino:export_openvino",
            "OpenVINO IR quantized by NNCF on your frames (--calib); --max-psnr-drop DB "
            "returns layers to higher precision until the PSNR drop is within budget",
            companions=(".bin",),
        ),
        Target(
            "trt-fp16", ".engine", "fp16", "tensorrt", "tensorrt",
            ("onnx", "onnxruntime", "onnxslim", "modelopt"), frozenset({"workspace", "timing_cache"}),
            "edgeir.export.tensorrt:export_tensorrt",
            "TensorRT FP16 engine, built where TensorRT and a CUDA GPU are; everywhere the "
            "TRT-ready FP16 ONNX (ModelOpt AutoCast), checked for TensorRT and verified on the CPU, "
            "and the command that builds the engine on the device",
            companions=(".trt.onnx",),
        ),
        Target(
            "trt-int8", ".engine", "int8", "tensorrt", "tensorrt",
            ("onnx", "onnxruntime", "onnxslim", "modelopt"),
            frozenset({"workspace", "timing_cache", "calib", "calib_frames", "calib_method", "keep_fp32"}),
            "edgeir.export.tensorrt:export_tensorrt",
            "TensorRT INT8 engine from a Q/DQ graph (ModelOpt, zero points 0, FP16 elsewhere) "
            "calibrated on your frames (--calib); built where TensorRT and a CUDA GPU are, else "
            "the TRT-ready ONNX and the build command",
            companions=(".trt.onnx",),
        ),
        Target(
            "coreml", ".mlpackage", "fp16", "coreml", "coreml",
            ("coremltools",), frozenset({"shapes", "precision", "image_input"}),
            "edgeir.export.coreml:export_coreml",
            "Core ML ML program (.mlpackage) computing in FP16 (--precision fp32 available); "
            "enumerated shapes by default (--shapes), tensors or --image-input; converts "
            "anywhere, predicts on macOS",
            default_shapes="enumerated",
        ),
        Target(
            "coreml-int8", ".mlpackage", "int8", "coreml", "coreml",
            ("coremltools",),
            frozenset({"shapes", "image_input", "quant", "calib", "calib_frames"}),
            "edgeir.export.coreml:export_coreml",
            "Core ML ML program with 8-bit weights (--quant w8, the default) or 8-bit weights "
            "and activations calibrated in PyTorch on your frames (--quant w8a8 --calib)",
            default_shapes="enumerated",
        ),
    )
}


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise EdgeIRError(f"unknown target {name!r}: expected one of {', '.join(TARGETS)}")
    return TARGETS[name]


def check_available(target: Target) -> None:
    missing = [m for m in target.requires if importlib.util.find_spec(m) is None]
    if missing:
        raise EdgeIRError(
            f"target {target.name} needs {', '.join(missing)}, which is not installed: "
            f'pip install "edgeir[{target.extra}]"'
        )


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")


def check_options(target: Target, given: dict[str, Any]) -> None:
    """``given`` holds the target-specific options the user set (not defaults)."""
    refused = sorted(k for k, v in given.items() if v is not None and k not in target.options)
    if refused:
        accepted = ", ".join(_flag(o) for o in sorted(target.options)) or "no target options"
        raise EdgeIRError(
            f"target {target.name} does not accept {', '.join(map(_flag, refused))}; "
            f"it accepts {accepted}"
        )
