"""TensorRT targets ``trt-fp16`` and ``trt-int8``: a TRT-ready ONNX everywhere, the engine
where TensorRT and a CUDA GPU are.

Engines are tied to one GPU model and TensorRT version, so the graph is the portable
artifact: it is made, checked against TensorRT's parser rules and verified in ONNX Runtime
on any machine, then built into an engine on the device (here when possible, else with
``edgeir build-engine`` or ``trtexec`` there).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.export.calibration import budget_gates, calibration_lines
from edgeir.export.graph import (
    DEFAULT_OPSET,
    embed_manifest,
    run_onnx,
    runner,
    save_onnx,
    session,
    trace,
)
from edgeir.export.parity import compare, held_out_agreement
from edgeir.export.pipeline import Network, Product, write_single
from edgeir.export.request import ExportRequest, ExportResult
from edgeir.export.tensorrt.compat import check_graph
from edgeir.fileio import check_output
from edgeir.manifest import Manifest, manifest_path
from edgeir.models import INPUT_NAME
from edgeir.runtimes.tensorrt_engine import (
    DEFAULT_WORKSPACE_MB,
    SUPPORTED_MAJORS,
    Profile,
    build_commands,
    graph_manifest,
    why_no_engine,
    write_engine,
)
from edgeir.shapes import InputShapes

log = logging.getLogger("edgeir")

ONNX_SUFFIX = ".trt.onnx"
REFERENCE_FRAMES = 2
"""Synthetic frames for the FP16 range check, whose peaks decide what AutoCast keeps in FP32."""
CPU_CHECK_NOTE = (
    "measured on ONNX Runtime CPU: psnr_vs_fp32_graph_db runs the graph as ONNX Runtime "
    "does (most FP16 ops in FP32 after casting); psnr_fp16_emulated_db rounds every tensor "
    "the graph types FP16 to FP16 between ops, as a GPU stores them. The lower one is the "
    "estimate of the engine; FP16 arithmetic inside kernels and TensorRT's own tactics are "
    "not covered"
)


def onnx_path_for(engine: Path) -> Path:
    """``x.engine`` -> ``x.trt.onnx``, the graph the engine is built from."""
    return engine.with_name(engine.stem + ONNX_SUFFIX)


MIN_WORKSPACE_MB = 64


def check_options(request: ExportRequest) -> None:
    workspace = request.options["workspace"]
    if workspace is not None and workspace < MIN_WORKSPACE_MB:
        raise EdgeIRError(f"expected --workspace of at least {MIN_WORKSPACE_MB} MB, found {workspace}")
    if request.target.precision == "int8":
        from edgeir.export.sensitive import check_module_names

        check_module_names(request, "ONNX")


def here(request: ExportRequest) -> str | None:
    """Said before the work starts: without TensorRT and a GPU no engine is built here."""
    missing = why_no_engine()
    if missing is None:
        return None
    return (f"no engine will be built here ({missing}): the TRT-ready ONNX graph is written and checked on this "
            "CPU, and the command that builds the engine on the device is printed at the end")


def _reference_frames(task: str, size: tuple[int, int], batch: int) -> np.ndarray:
    from edgeir.calib.sources import open_calibration

    frames = open_calibration("synthetic", size, max(REFERENCE_FRAMES, batch), task=task).frames
    return np.ascontiguousarray(frames[: max(batch, REFERENCE_FRAMES) // batch * batch])


def _verify_on_cpu(fp32: Any, trt_graph: Any, inputs: list[np.ndarray]) -> dict[str, Any]:
    """PSNR of the TRT-ready graph against the FP32 graph, as ONNX Runtime runs it and with
    FP16 storage emulated; the lower is the estimate recorded as ``psnr_estimate_db``."""
    from edgeir.bench.metrics import mean_db
    from edgeir.export.tensorrt.emulate import emulation_session

    def outputs(graph: Any, make_session: Callable[[Any], Any] = session) -> list[np.ndarray]:
        # one session at a time: each keeps its memory arena at its peak until it is dropped
        run = runner(graph, make_session)
        return [run(x) for x in inputs]

    expected = outputs(fp32)
    as_run = [compare(e, y)["psnr_db"] for e, y in zip(expected, outputs(trt_graph))]
    as_emulated = [compare(e, y)["psnr_db"] for e, y in zip(expected, outputs(trt_graph, emulation_session))]
    run_db, emulated_db = round(mean_db(as_run), 2), round(mean_db(as_emulated), 2)
    return {"psnr_vs_fp32_graph_db": run_db, "psnr_fp16_emulated_db": emulated_db,
            "psnr_estimate_db": min(run_db, emulated_db), "note": CPU_CHECK_NOTE}


def _make_graph(request: ExportRequest, fp32: Any, network: Network) -> tuple[Any, dict[str, Any], Any]:
    """(TRT-ready graph, details, held-out calibration frames of an INT8 graph)."""
    from edgeir.calib.modelopt_int8 import quantize as modelopt_quantize
    from edgeir.export.tensorrt.graph import FP32_OP_TYPES, count_fp32_compute, fp16_graph

    size, batch = network.size, network.batch
    if request.target.precision == "fp16":
        graph, details = fp16_graph(fp32, _reference_frames(request.task, size, batch))
        return graph, details, None
    from edgeir.calib.onnx_int8 import excluded_nodes
    from edgeir.export.calibration import calibration_frames, describe
    from edgeir.export.sensitive import keep_fp32

    fit, held_out = calibration_frames(request, size, batch)
    budget = request.options["max_psnr_drop"]
    if budget is not None:
        from edgeir.calib.budget import check_sharp

        check_sharp(held_out)
    keep = keep_fp32(request.options["keep_fp32"], default=())
    kept_nodes = excluded_nodes(fp32, keep) if keep else []
    whole = len(fit) // batch * batch
    graph, details = modelopt_quantize(fp32, fit.frames[:whole], batch, request.options["calib_method"],
                                       kept_nodes, FP32_OP_TYPES)
    if budget is not None:
        from edgeir.calib.steer import within_budget
        from edgeir.export.tensorrt.emulate import emulation_session

        # Ranked as ONNX Runtime runs the graph (fast); the budget is held with FP16 storage
        # emulated, the estimate of the engine the manifest records.
        steered = within_budget(graph, fp32, fit, held_out, batch, budget, False, runner,
                                lambda g: runner(g, emulation_session), "FP16")
        graph = steered.graph
        details.update(steered.record)
    details["fp32_node_count"] = count_fp32_compute(graph)
    details["kept_fp32"] = list(keep)
    details["calibration"] = describe(fit, held_out)
    details.update(held_out_agreement(lambda b: session(fp32).run(None, {INPUT_NAME: b})[0],
                                      lambda b: session(graph).run(None, {INPUT_NAME: b})[0], held_out, batch))
    return graph, details, held_out


@dataclass
class TensorRTProduct(Product):
    """The TRT-ready graph, verified here; the engine is built from it where TensorRT is."""

    graph: Any = None
    fp32_graph: Any = None
    workspace: int = DEFAULT_WORKSPACE_MB
    timing_cache: str | None = None
    engine_built: bool = False

    def run(self, x: np.ndarray) -> np.ndarray:
        return run_onnx(self.graph, x)

    def measure(self, x: np.ndarray, expected: np.ndarray, output: np.ndarray) -> None:
        inputs = [x] if self.held_out is None else list(self.held_out.batches(x.shape[0], whole=True))
        log.info("verifying the TRT-ready graph on ONNX Runtime CPU (%d batch(es))", len(inputs))
        self.details["cpu_check"] = _verify_on_cpu(self.fp32_graph, self.graph, inputs)

    def embed(self, manifest: Manifest) -> None:
        manifest.runtime = "onnxruntime"  # the graph itself runs anywhere ONNX Runtime does
        embed_manifest(self.graph, manifest)

    def save(self, path: Path) -> None:
        save_onnx(self.graph, path)

    def write(self, manifest: Manifest, output: Path) -> ExportResult:
        onnx_path = onnx_path_for(output)
        onnx_manifest = write_single(self, manifest, onnx_path)
        commands = manifest.details["tensorrt"]["build_commands"]
        extra = {"onnx": str(onnx_path), "build_engine": commands["edgeir"], "trtexec": commands["trtexec"]}
        missing = why_no_engine()
        if missing is not None:
            log.info("TensorRT engine not built here (%s): build it from %s on the device", missing, onnx_path.name)
            return ExportResult(None, onnx_manifest, manifest, status="onnx-only", extra={**extra, "why": missing})
        engine, engine_manifest = build_from_onnx(
            onnx_path, output, workspace_mb=self.workspace,
            timing_cache=Path(self.timing_cache) if self.timing_cache else None,
            overwrite=True)  # checked with the export's outputs
        self.engine_built = True
        return ExportResult(engine, manifest_path(engine), engine_manifest, extra=extra)

    def lines(self, manifest: Manifest) -> list[str]:
        details = manifest.details
        cpu = details["cpu_check"]
        kept = ", ".join(f"{op} x{n}" for op, n in details.get("fp32_node_count", {}).items()) or "nothing"
        others = "FP16" if manifest.precision == "fp16" else "INT8 or FP16"
        commands = details["tensorrt"]["build_commands"]
        lines = [f"  onnx      {manifest.artifact['file']} (TRT-ready)",
                 f"  cpu check {cpu['psnr_vs_fp32_graph_db']} dB vs the FP32 graph in ONNX Runtime, "
                 f"{cpu['psnr_fp16_emulated_db']} dB with FP16 storage emulated; TensorRT check "
                 f"{'passed' if details['tensorrt']['compatibility']['ok'] else 'FAILED'}"]
        if "fp32_node_count" in details:
            lines.append(f"  fp32 ops  {kept} (everything else {others})")
        lines += calibration_lines(details)
        if not self.engine_built:
            lines += ["  build the engine on the device:", f"    {commands['edgeir']}", "  or:",
                      f"    {commands['trtexec']}"]
        return lines


def make(request: ExportRequest, network: Network) -> TensorRTProduct:
    shapes = request.shapes
    workspace = request.options["workspace"] or DEFAULT_WORKSPACE_MB
    fp32 = trace(network.rewrite, shapes, DEFAULT_OPSET)
    graph, details, held_out = _make_graph(request, fp32, network)
    report = check_graph(graph, shapes)
    if not report.ok:
        raise EdgeIRError(
            f"expected a graph TensorRT's parser takes, found {len(report.problems)} problem(s), first: "
            f"{report.problems[0]}; nothing was written"
        )
    profile = Profile.from_shapes(shapes, INPUT_NAME)
    commands = build_commands(onnx_path_for(request.output), request.output, profile, shapes,
                              request.target.precision, workspace)
    details["tensorrt"] = {
        "targets": [f"{major}.x" for major in SUPPORTED_MAJORS],
        "profile": profile.to_dict(),
        "compatibility": report.to_dict(),
        "build_commands": commands,
    }
    compared = (f"the TRT-ready ONNX graph ({request.target.precision}) in ONNX Runtime on this CPU (not an "
                f"engine: TensorRT builds that on the device)")
    return TensorRTProduct(runtime="onnxruntime CPUExecutionProvider", compared=compared,
                           versions=("onnx", "onnxruntime", "onnxslim", "nvidia-modelopt", "tensorrt"),
                           details=details, held_out=held_out, opset=DEFAULT_OPSET,
                           gates=budget_gates(details, held_out), graph=graph, fp32_graph=fp32,
                           workspace=workspace, timing_cache=request.options["timing_cache"])


def build_from_onnx(
    onnx_path: Path, engine_path: Path | None = None, shape: tuple[int, int] | None = None,
    dynamic: str | None = None, batch: int = 1, workspace_mb: int = DEFAULT_WORKSPACE_MB,
    timing_cache: Path | None = None, trt: Any = None, overwrite: bool = False,
) -> tuple[Path, Manifest]:
    """Build the engine of a TRT-ready ONNX written by ``export`` and write it with its
    manifest; returns (the engine's path, its manifest). The graph's manifest says the precision and the
    profile; ``shape`` (static) or ``dynamic`` (``MIN:OPT:MAX``) with ``batch`` replace
    the profile. An existing engine (or its manifest) is replaced only with ``overwrite``."""
    onnx_path = Path(onnx_path)
    source = graph_manifest(onnx_path)
    if shape is not None and dynamic is not None:
        raise EdgeIRError("expected either --size or --dynamic, found both")
    if shape is not None or dynamic is not None:
        import onnx

        shapes = (InputShapes.fixed(shape, source.task, batch) if shape is not None
                  else InputShapes.dynamic(dynamic, source.task, batch))
        report = check_graph(onnx.load(str(onnx_path), load_external_data=False), shapes)
        if not report.ok:
            raise EdgeIRError(f"expected a profile this graph allows, found: {report.problems[0]}")
    else:
        shapes = source.input_shapes
    if engine_path is None:
        engine_path = onnx_path.with_name(onnx_path.name[: -len(ONNX_SUFFIX)] + ".engine"
                                          if onnx_path.name.endswith(ONNX_SUFFIX) else onnx_path.stem + ".engine")
    for path in (engine_path, manifest_path(engine_path)):
        check_output(path, overwrite)
    manifest = write_engine(onnx_path, engine_path, shapes, workspace_mb, timing_cache, trt=trt)
    return engine_path, manifest
