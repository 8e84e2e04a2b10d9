"""The table of targets: every name `edgeir export --target` accepts, in one place.

A row says what the target produces, at which precision, which runtime opens it, which
extra it needs (checked before any work starts), which target-specific options it accepts
(with the choices it takes: an option it does not accept is an error, never silently
dropped), the module that performs its step (``edgeir.export.pipeline`` runs the rest) and
the gates its artifact must pass before it is written. ``OPTIONS`` defines each
target-specific option once: the CLI builds its flags from it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeir.errors import EdgeIRError
from edgeir.export.gate import (
    BF16_MIN_PSNR,
    FP16_MIN_PSNR,
    FP32_MAX_ABS,
    INT8_HINT,
    INT8_MIN_PSNR,
    TRACED_MAX_ABS,
    Gate,
)

COMMON_OPTIONS = frozenset({"variant", "task", "weights", "output", "shape", "dynamic", "batch", "overwrite"})


@dataclass(frozen=True)
class Option:
    """A target-specific option, defined once for the CLI and for the checks before work."""

    name: str
    help: str
    group: str
    """The ``--help`` section it is listed in."""
    type: Any = str
    choices: tuple[str, ...] | None = None
    default: Any = None
    """What the target gets when the option is not given (None: the target decides)."""
    metavar: str | None = None
    many: bool = False
    """Takes one or more values (``--keep-fp32 A B``)."""
    switch: bool = False
    """A flag without a value."""
    cli_name: str | None = None
    """The flag's name where it is not the keyword's (``--sizes`` for ``shapes=``)."""
    renamed_from: str | None = None
    """The flag's old spelling, still accepted with a warning."""

    @property
    def flag(self) -> str:
        return "--" + (self.cli_name or self.name).replace("_", "-")


CALIB_METHODS = ("minmax", "entropy", "percentile")

OPTIONS: dict[str, Option] = {
    o.name: o
    for o in (
        Option("shapes", "Core ML: exactly these sizes (enumerated shapes, which can run on the Neural Engine "
               "at each; the first is the default). Default for coreml targets: "
               "736x1280,256x256,512x512,1088x1920", "Core ML targets", metavar="HxW,HxW,...",
               cli_name="sizes", renamed_from="--shapes"),
        Option("opset", "ONNX opset (onnx targets; default: 20, whose Gelu op ONNX Runtime's INT8 graphs run faster; range 14 to 20)", "ONNX targets", type=int),
        Option("calib", "calibration frames: calib.npz (edgeir calib), an image folder, a video, gopro:DIR, "
               "pairs:BLUR_DIR,SHARP_DIR or synthetic (the default: the synthetic calib split; your own camera "
               "frames fit better). A quarter is held out to measure the INT8 loss", "INT8 targets",
               metavar="SOURCE"),
        Option("calib_frames", "frames to take from an image folder, video or synthetic (default: 32)",
               "INT8 targets", type=int, metavar="N"),
        Option("calib_method", "how activation ranges are set (default: minmax; trt-int8 takes minmax or "
               "entropy)", "INT8 targets", choices=CALIB_METHODS, default="minmax"),
        Option("keep_fp32", "leave these unquantized: node names, scopes such as /Decoder.2, or op types as "
               "the runtime names them (ONNX: Conv; OpenVINO: Convolution); checked against the network "
               "before any work. For openvino-int8 it replaces the default, the dynamic-filter module of "
               "the last full-resolution decoder block, which NNCF's INT8 hurts most; 'none' quantizes "
               "that too", "INT8 targets", metavar="NODE_OR_OP_TYPE", many=True),
        Option("max_psnr_drop", "keep the PSNR drop against the sharp held-out frames within DB (needs "
               "--calib synthetic, gopro:DIR or pairs:...): the convolutions INT8 hurts most go back to FP32 "
               "(onnx-int8; openvino-int8 by NNCF's accuracy control) or FP16 (trt-int8); a budget that "
               "cannot be met is refused with the best drop reached", "INT8 targets", type=float, metavar="DB"),
        Option("int8_scheme", "onnx-int8: cpu = uint8 activations, fastest on ONNX Runtime (default); trt = "
               "symmetric int8 with zero points 0, what TensorRT accepts", "INT8 targets",
               choices=("cpu", "trt"), default="cpu"),
        Option("workspace", "TensorRT builder workspace in MB, at least 64 (default: 4096)",
               "TensorRT targets", type=int, metavar="MB"),
        Option("timing_cache", "TensorRT timing cache: read if it exists, written after the build, so "
               "rebuilds on the same GPU are faster", "TensorRT targets", metavar="PATH"),
        Option("precision", "coreml: compute precision of the ML program (default: fp16, what the GPU and "
               "Neural Engine run)", "Core ML targets", choices=("fp16", "fp32"), default="fp16"),
        Option("image_input", "take and return RGB images (input scaled by 1/255) instead of float tensors, "
               "so an iOS camera pipeline can feed pixel buffers directly", "Core ML targets", switch=True),
        Option("quant", "coreml-int8: w8 = 8-bit weights, FP16 compute (default); w8a8 = 8-bit weights and "
               "activations, calibrated in PyTorch on --calib frames (iOS 17 / macOS 14; int8 compute on "
               "the Neural Engine of A17 Pro / M4 and later)", "Core ML targets", choices=("w8", "w8a8"),
               default="w8"),
    )
}


@dataclass(frozen=True)
class Target:
    name: str
    suffix: str
    precision: str
    runtime: str
    extra: str
    requires: tuple[str, ...]
    """Modules the export needs; all must be importable."""
    options: dict[str, tuple[str, ...] | None]
    """Target-specific options by their Python name (``opset`` for ``--opset``), each with
    the choices this target takes (None: the option's own rule)."""
    module: str
    """The module of the target's own step (``check_options`` and ``make``), imported only
    when used."""
    gates: tuple[Gate, ...]
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


def _options(*names: str, **choices: tuple[str, ...]) -> dict[str, tuple[str, ...] | None]:
    return {**{n: None for n in names}, **choices}


def _psnr_gates(floor: float, first: str, against: str, hint: str = "") -> tuple[Gate, ...]:
    """A reduced-precision artifact against its FP32 graph and against PyTorch."""
    return (Gate(first, floor, against, hint=hint), Gate("parity.psnr_db", floor, "PyTorch", hint=hint))


ONNX_INT8 = ("onnx", "onnxruntime", "onnxslim")
CALIB_HINT = "try --calib with your own frames"


def _second_size(floor: float) -> Gate:
    """A graph exported for a range, checked at a second size of it (none for --size)."""
    return Gate("details.second_size.psnr_db", floor, "PyTorch at a second size of the range", optional=True)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target(
            "onnx", ".onnx", "fp32", "onnxruntime", "onnx", ONNX_INT8, _options("opset"),
            "edgeir.export.onnx", (Gate("parity.max_abs", FP32_MAX_ABS, "PyTorch"),),
            "ONNX graph of the export rewrite, simplified, FP32",
        ),
        Target(
            "onnx-fp16", ".onnx", "fp16", "onnxruntime", "onnx", ONNX_INT8, _options("opset"),
            "edgeir.export.onnx", _psnr_gates(FP16_MIN_PSNR, "details.psnr_vs_fp32_graph_db", "the FP32 graph"),
            "ONNX graph with FP16 weights and activations, FP32 inputs/outputs and "
            "FP32 normalisation, means and the input-image residual",
        ),
        Target(
            "onnx-int8", ".onnx", "int8", "onnxruntime", "onnx", ONNX_INT8,
            _options("opset", "calib", "calib_frames", "calib_method", "keep_fp32", "int8_scheme", "max_psnr_drop"),
            "edgeir.export.onnx",
            _psnr_gates(INT8_MIN_PSNR, "details.psnr_vs_fp32_graph_db", "the FP32 graph", INT8_HINT),
            "Q/DQ INT8 ONNX calibrated on your frames (--calib); --int8-scheme cpu (uint8 "
            "activations, fastest on ONNX Runtime) or trt (symmetric int8, for TensorRT)",
        ),
        Target(
            "openvino", ".xml", "fp32", "openvino", "openvino", ("onnx", "onnxslim", "openvino"), {},
            "edgeir.export.openvino", (Gate("parity.max_abs", FP32_MAX_ABS, "PyTorch (f32 pinned)"),),
            "OpenVINO IR, FP32 weights; the manifest pins f32 inference (OpenVINO's CPU "
            "default is bf16 where the CPU has it)",
            companions=(".bin",),
        ),
        Target(
            "openvino-fp16", ".xml", "fp16", "openvino", "openvino", ("onnx", "onnxslim", "openvino"), {},
            "edgeir.export.openvino",
            (Gate("parity.psnr_db", BF16_MIN_PSNR, "PyTorch, computed in the CPU's default precision"),),
            "OpenVINO IR with FP16 weights, computed in the device's default precision "
            "(reported at load)",
            companions=(".bin",),
        ),
        Target(
            "openvino-int8", ".xml", "int8", "openvino", "openvino", ("onnx", "onnxslim", "openvino", "nncf"),
            _options("calib", "calib_frames", "keep_fp32", "max_psnr_drop"),
            "edgeir.export.openvino",
            _psnr_gates(INT8_MIN_PSNR, "details.psnr_vs_fp32_graph_db", "the FP32 IR", INT8_HINT),
            "OpenVINO IR quantized by NNCF on your frames (--calib); --max-psnr-drop DB "
            "returns layers to higher precision until the PSNR drop is within budget",
            companions=(".bin",),
        ),
        Target(
            "trt-fp16", ".engine", "fp16", "tensorrt", "tensorrt", (*ONNX_INT8, "modelopt"),
            _options("workspace", "timing_cache"),
            "edgeir.export.tensorrt",
            _psnr_gates(FP16_MIN_PSNR, "details.cpu_check.psnr_estimate_db", "the FP32 graph (FP16 emulated)"),
            "TensorRT FP16 engine, built where TensorRT and a CUDA GPU are; everywhere the "
            "TRT-ready FP16 ONNX (ModelOpt AutoCast), checked for TensorRT and verified on the CPU, "
            "and the command that builds the engine on the device",
            companions=(".trt.onnx",),
        ),
        Target(
            "trt-int8", ".engine", "int8", "tensorrt", "tensorrt", (*ONNX_INT8, "modelopt"),
            _options("workspace", "timing_cache", "calib", "calib_frames", "keep_fp32", "max_psnr_drop",
                     calib_method=("minmax", "entropy")),
            "edgeir.export.tensorrt",
            _psnr_gates(INT8_MIN_PSNR, "details.cpu_check.psnr_estimate_db", "the FP32 graph (FP16 emulated)",
                        INT8_HINT),
            "TensorRT INT8 engine from a Q/DQ graph (ModelOpt, zero points 0, FP16 elsewhere) "
            "calibrated on your frames (--calib); built where TensorRT and a CUDA GPU are, else "
            "the TRT-ready ONNX and the build command",
            companions=(".trt.onnx",),
        ),
        Target(
            "executorch", ".pte", "fp32", "executorch", "executorch", ("executorch",), {},
            "edgeir.export.executorch", (Gate("parity.max_abs", FP32_MAX_ABS, "PyTorch"),),
            "ExecuTorch program (.pte), FP32, XNNPACK-delegated, for Android and iOS apps",
        ),
        Target(
            "executorch-int8", ".pte", "int8", "executorch", "executorch", ("executorch",),
            _options("calib", "calib_frames"),
            "edgeir.export.executorch",
            _psnr_gates(INT8_MIN_PSNR, "details.psnr_vs_fp32_graph_db", "the FP32 network in PyTorch", CALIB_HINT),
            "ExecuTorch program (.pte) quantized with PT2E and the XNNPACK quantizer on your frames "
            "(--calib): INT8 convolutions; the dynamic filters, deep pools and input-pyramid convolutions (SCM) FP32",
        ),
        Target(
            "ncnn", ".param", "fp16", "ncnn", "ncnn", ("pnnx", "ncnn"), {},
            "edgeir.export.ncnn",
            (Gate("parity.psnr_db", FP16_MIN_PSNR, "PyTorch (FP16 weights)"), _second_size(FP16_MIN_PSNR)),
            "ncnn graph (.param + .bin) converted by pnnx, FP16 weights, FP16 storage and arithmetic "
            "on ARM; one graph takes every size of the range",
            companions=(".bin",),
        ),
        Target(
            "ncnn-int8", ".param", "int8", "ncnn", "ncnn", ("pnnx", "ncnn"),
            _options("calib", "calib_frames", calib_method=("minmax",)),
            "edgeir.export.ncnn",
            (*_psnr_gates(INT8_MIN_PSNR, "details.psnr_vs_fp32_graph_db", "the FP32 ncnn graph", CALIB_HINT),
             _second_size(INT8_MIN_PSNR)),
            "ncnn graph with INT8 convolutions, scaled as ncnn2int8 does from your frames (--calib); "
            "the rest FP32 (FP16 on ARM)",
            companions=(".bin",),
        ),
        Target(
            "coreml", ".mlpackage", "fp16", "coreml", "coreml", ("coremltools",),
            _options("shapes", "precision", "image_input"),
            "edgeir.export.coreml",
            (Gate("parity.max_abs", TRACED_MAX_ABS, "the faithful PyTorch model (the traced module)"),
             Gate("details.coreml_parity.psnr_db", FP16_MIN_PSNR, "PyTorch (Core ML on macOS)", optional=True)),
            "Core ML ML program (.mlpackage) computing in FP16 (--precision fp32 available); "
            "enumerated shapes by default (--sizes), tensors or --image-input; converts "
            "anywhere, predicts on macOS",
            default_shapes="enumerated",
        ),
        Target(
            "coreml-int8", ".mlpackage", "int8", "coreml", "coreml", ("coremltools",),
            _options("shapes", "image_input", "quant", "calib", "calib_frames"),
            "edgeir.export.coreml",
            (Gate("details.psnr_vs_fp32_pytorch_db", INT8_MIN_PSNR, "FP32 in PyTorch",
                  hint="try --calib with your own frames"),),
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
    return OPTIONS[option].flag if option in OPTIONS else "--" + option.replace("_", "-")


def check_options(target: Target, given: dict[str, Any]) -> dict[str, Any]:
    """The target's options: ``given`` (the options the user set; None stands for unset)
    checked against the row (accepted, one of its choices), with each option's default
    where none was given."""
    unknown = sorted(k for k in given if k not in OPTIONS)
    if unknown:
        raise EdgeIRError(f"expected target options among {', '.join(OPTIONS)}, found {', '.join(unknown)}")
    refused = sorted(k for k, v in given.items() if v is not None and k not in target.options)
    if refused:
        accepted = ", ".join(_flag(o) for o in sorted(target.options)) or "no target options"
        raise EdgeIRError(
            f"target {target.name} does not accept {', '.join(map(_flag, refused))}; "
            f"it accepts {accepted}"
        )
    options: dict[str, Any] = {}
    for name, allowed in target.options.items():
        option = OPTIONS[name]
        value = given.get(name)
        choices = allowed or option.choices
        if value is not None and choices is not None and value not in choices:
            raise EdgeIRError(f"expected {option.flag} {' or '.join(choices)} for {target.name}, found {value!r}")
        options[name] = option.default if value is None else value
    return options
