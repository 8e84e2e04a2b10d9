"""TensorRT targets ``trt-fp16`` and ``trt-int8``: a TRT-ready ONNX everywhere, the engine
where TensorRT and a CUDA GPU are.

Engines are tied to one GPU model and TensorRT version, so the graph is the portable
artifact: it is made, checked against TensorRT's parser rules and verified in ONNX Runtime
on any machine, then built into an engine on the device (here when possible, else with
``edgeir build-engine`` or ``trtexec`` there).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgeir.errors import EdgeIRError
from edgeir.export.onnx import DEFAULT_OPSET, FP16_MIN_PSNR, INT8_MIN_PSNR, session, trace
from edgeir.export.parity import compare, held_out_agreement, parity_input
from edgeir.export.request import ExportRequest, ExportResult, versions
from edgeir.export.tensorrt.compat import check_graph
from edgeir.fileio import atomic_path, check_output, sha256_of
from edgeir.manifest import Manifest, manifest_path
from edgeir.models import INPUT_NAME, exportable
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
"""Synthetic frames for AutoCast's reference run (where FP16 would overflow)."""
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


def _workspace(request: ExportRequest) -> int:
    workspace = request.options.get("workspace")
    workspace = DEFAULT_WORKSPACE_MB if workspace is None else int(workspace)
    if workspace < 64:
        raise EdgeIRError(f"expected --workspace of at least 64 MB, found {workspace}")
    return workspace


def _reference_frames(task: str, size: tuple[int, int], batch: int) -> np.ndarray:
    from edgeir.calib.sources import open_calibration

    frames = open_calibration("synthetic", size, max(REFERENCE_FRAMES, batch), task=task).frames
    return np.ascontiguousarray(frames[: max(batch, REFERENCE_FRAMES) // batch * batch])


def _verify_on_cpu(fp32: Any, trt_graph: Any, inputs: list[np.ndarray]) -> dict[str, Any]:
    """PSNR of the TRT-ready graph against the FP32 graph, as ONNX Runtime runs it and with
    FP16 storage emulated; the lower is the estimate recorded as ``psnr_estimate_db``."""
    from edgeir.export.parity import IDENTICAL_PSNR_DB
    from edgeir.export.tensorrt.emulate import emulation_session

    reference, plain, emulated = session(fp32), session(trt_graph), emulation_session(trt_graph)
    as_run, as_emulated = [], []
    for x in inputs:
        expected = reference.run(None, {INPUT_NAME: x})[0]
        as_run.append(compare(expected, plain.run(None, {INPUT_NAME: x})[0])["psnr_db"] or IDENTICAL_PSNR_DB)
        as_emulated.append(compare(expected, emulated.run(None, {INPUT_NAME: x})[0])["psnr_db"] or IDENTICAL_PSNR_DB)
    run_db, emulated_db = round(float(np.mean(as_run)), 2), round(float(np.mean(as_emulated)), 2)
    return {"psnr_vs_fp32_graph_db": run_db, "psnr_fp16_emulated_db": emulated_db,
            "psnr_estimate_db": min(run_db, emulated_db), "note": CPU_CHECK_NOTE}


def _check_floor(precision: str, estimate: float, against_torch: float | None) -> None:
    floor = FP16_MIN_PSNR if precision == "fp16" else INT8_MIN_PSNR
    for against, psnr in (("the FP32 graph (FP16 emulated)", estimate), ("PyTorch", against_torch)):
        if psnr is not None and not psnr >= floor:
            raise EdgeIRError(
                f"parity check failed: expected the TRT-ready {precision.upper()} graph within {floor} dB "
                f"PSNR of {against}, found {psnr} dB; nothing was written"
                + ("; try --calib with your own frames, --calib-method or --keep-fp32" if precision == "int8" else "")
            )


def _make_graph(request: ExportRequest, fp32: Any, size: tuple[int, int], batch: int
                ) -> tuple[Any, dict[str, Any], list[np.ndarray], str]:
    """(TRT-ready graph, details, inputs to verify on, what they are)."""
    from edgeir.calib.modelopt_int8 import quantize as modelopt_quantize
    from edgeir.export.tensorrt.graph import FP32_OP_TYPES, count_fp32_compute, fp16_graph

    if request.target.precision == "fp16":
        graph, details = fp16_graph(fp32, _reference_frames(request.task, size, batch))
        x, described = parity_input(batch, size)
        return graph, details, [x], described
    from edgeir.calib.onnx_int8 import excluded_nodes
    from edgeir.export.calibration import calibration_frames, describe
    from edgeir.export.sensitive import keep_fp32

    fit, held_out = calibration_frames(request, size, batch)
    keep = keep_fp32(request.options.get("keep_fp32"), default=())
    kept_nodes = excluded_nodes(fp32, keep) if keep else []
    whole = len(fit) // batch * batch
    graph, details = modelopt_quantize(fp32, fit.frames[:whole], batch, request.options.get("calib_method") or "minmax",
                                       kept_nodes, FP32_OP_TYPES)
    details["fp32_node_count"] = count_fp32_compute(graph)
    details["kept_fp32"] = list(keep)
    details["calibration"] = describe(fit, held_out)
    details.update(held_out_agreement(lambda b: session(fp32).run(None, {INPUT_NAME: b})[0],
                                      lambda b: session(graph).run(None, {INPUT_NAME: b})[0], held_out, batch))
    inputs = list(held_out.batches(batch, whole=True))
    return graph, details, inputs, f"{len(inputs) * batch} held-out calibration frame(s) ({held_out.source})"


def _write_onnx(graph: Any, manifest: Manifest, path: Path) -> Path:
    import onnx

    for key, value in manifest.metadata().items():
        graph.metadata_props.add(key=key, value=value)
    with atomic_path(path) as temp:
        onnx.save(graph, str(temp))
        manifest.artifact = {"file": path.name, "sha256": sha256_of(temp), "size_bytes": temp.stat().st_size}
        written = manifest.write(manifest_path(path))
    return written


def export_tensorrt(request: ExportRequest) -> ExportResult:
    target, shapes = request.target, request.shapes
    workspace = _workspace(request)
    timing_cache = request.options.get("timing_cache")
    model = request.weights.build(request.variant, request.task)
    rewrite = exportable(model)
    fp32 = trace(rewrite, shapes, DEFAULT_OPSET)
    batch = shapes.max_batch if shapes.static else 1
    size = shapes.opt if shapes.static else shapes.min

    graph, details, inputs, described = _make_graph(request, fp32, size, batch)
    profile = Profile.from_shapes(shapes, INPUT_NAME)
    report = check_graph(graph, shapes)
    if not report.ok:
        raise EdgeIRError(
            f"expected a graph TensorRT's parser takes, found {len(report.problems)} problem(s), first: "
            f"{report.problems[0]}; nothing was written"
        )
    log.info("verifying the TRT-ready graph on ONNX Runtime CPU (%s)", described)
    cpu = _verify_on_cpu(fp32, graph, inputs)
    with torch.no_grad():
        reference = rewrite(torch.from_numpy(inputs[0])).numpy()
    parity = {"reference": "PyTorch export rewrite, FP32", "input": described,
              "runtime": "onnxruntime CPUExecutionProvider",
              **compare(reference, session(graph).run(None, {INPUT_NAME: inputs[0]})[0])}
    _check_floor(target.precision, cpu["psnr_estimate_db"], parity["psnr_db"])

    output = request.output
    onnx_path = onnx_path_for(output)
    commands = build_commands(onnx_path, output, profile, shapes, target.precision, workspace)
    details.update({
        "cpu_check": cpu,
        "tensorrt": {
            "targets": [f"{major}.x" for major in SUPPORTED_MAJORS],
            "profile": profile.to_dict(),
            "compatibility": report.to_dict(),
            "build_commands": commands,
        },
    })
    manifest = request.manifest(parity=parity, details=details, opset=DEFAULT_OPSET,
                                versions=versions("onnx", "onnxruntime", "onnxslim", "nvidia-modelopt", "tensorrt"))
    manifest = replace(manifest, runtime="onnxruntime")  # the graph itself runs anywhere ONNX Runtime does
    onnx_manifest = _write_onnx(graph, manifest, onnx_path)
    log.info("wrote %s and %s", onnx_path, onnx_manifest.name)

    missing = why_no_engine()
    extra = {"onnx": str(onnx_path), "build_engine": commands["edgeir"], "trtexec": commands["trtexec"]}
    if missing is not None:
        log.info("TensorRT engine not built here (%s): build it from %s on the device", missing, onnx_path.name)
        return ExportResult(None, onnx_manifest, manifest, status="onnx-only", extra={**extra, "why": missing})
    engine, engine_manifest = build_from_onnx(onnx_path, output, workspace_mb=workspace,
                                              timing_cache=Path(timing_cache) if timing_cache else None,
                                              overwrite=True)  # checked with the export's outputs
    return ExportResult(engine, manifest_path(engine), engine_manifest, extra=extra)


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
        raise EdgeIRError("expected either --shape or --dynamic, found both")
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
