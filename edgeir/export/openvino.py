"""OpenVINO IR (``openvino``, ``openvino-fp16``, ``openvino-int8``) from the traced rewrite.

OpenVINO runs FP32 models in bf16 on CPUs with AVX-512 bf16 unless told otherwise
(DESIGN.md: 44.7 dB against f32). So ``openvino`` records ``INFERENCE_PRECISION_HINT=f32``
in its manifest and the runtime backend applies it; plain OpenVINO users must pass it
themselves, because the hint in an IR's ``rt_info`` is not applied by the CPU plugin
(checked with OpenVINO 2026.4). ``openvino-fp16`` stores FP16 weights and computes in the
device's default precision, which the runtime reports. ``openvino-int8`` is NNCF
post-training quantization on the calibration frames, optionally accuracy-controlled
against a PSNR budget (``--max-psnr-drop``).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgeir.calib.sources import CalibrationSet
from edgeir.errors import EdgeIRError
from edgeir.export.onnx import DEFAULT_OPSET, FP32_MAX_ABS, INT8_MIN_PSNR, trace
from edgeir.export.parity import IDENTICAL_PSNR_DB, compare, held_out_agreement, parity_input
from edgeir.export.request import ExportRequest, ExportResult, versions
from edgeir.fileio import remove, sha256_of
from edgeir.manifest import manifest_path
from edgeir.models import exportable
from edgeir.quiet import quietly
from edgeir.runtimes.openvino_backend import precision_name

log = logging.getLogger("edgeir")

PINNED_F32 = {"INFERENCE_PRECISION_HINT": "f32"}
MAX_RESTORED_GROUPS = 16
"""Layer groups accuracy control may return to higher precision: each costs a compile and a
validation pass, and ConvIR has too many quantized convolutions to try them all."""
RANKING_FRAMES = 2
"""Held-out frames NNCF ranks layer groups on (it compiles the model once per group)."""
NOT_QUANTIZED_TYPES = ("Add", "Multiply", "Subtract", "ReduceMean", "Interpolate", "AvgPool",
                       "Concat", "MVN")
"""Ops whose inputs NNCF would also quantize by default; only convolutions are. Measured on
the demo weights: quantizing the element-wise ops of the dynamic filters as well cost 1.1 dB
PSNR at 256x256 (0.45 dB at 720x1280) for 8-16% more speed (docs/benchmarks.md); the ONNX INT8
path quantizes only ``Conv`` for the same reason."""
FP16_MIN_PSNR = 35.0
"""``openvino-fp16`` against the FP32 graph, as the CPU runs it (bf16 compute here)."""


def _compile(model: Any, options: dict[str, Any]) -> Any:
    import openvino as ov

    return ov.Core().compile_model(model, "CPU", options)


def _run(compiled: Any, x: np.ndarray) -> np.ndarray:
    return next(iter(compiled(x).values()))


def ignored_scope(model: Any, keep: Sequence[str]) -> Any:
    """``--keep-fp32`` as an NNCF IgnoredScope, plus :data:`NOT_QUANTIZED_TYPES`: OpenVINO op
    types (``Convolution``) or name scopes of the traced graph (``/Decoder.2``); a name that
    matches nothing is an error, not a silent no-op."""
    import nncf

    names = [op.get_friendly_name() for op in model.get_ordered_ops()]
    types = {op.get_type_name() for op in model.get_ordered_ops()}
    chosen_types, patterns = [], []
    for item in keep:
        if item in types:
            chosen_types.append(item)
            continue
        pattern = "^" + re.escape(item.rstrip("/")) + "(/.*)?$"
        if not any(re.match(pattern, n) for n in names):
            raise EdgeIRError(
                f"expected --keep-fp32 to name an OpenVINO op type or a scope of the graph, found "
                f"{item!r} in none (scopes look like /Decoder.2, op types like Convolution)"
            )
        patterns.append(pattern)
    chosen_types += [t for t in NOT_QUANTIZED_TYPES if t in types and t not in chosen_types]
    return nncf.IgnoredScope(patterns=patterns, types=chosen_types, validate=False)


def higher_precision_convolutions(model: Any) -> list[str]:
    """Convolutions whose input is not fake-quantized: the layers NNCF left (or returned)
    to floating point."""
    left = []
    for op in model.get_ordered_ops():
        if op.get_type_name() != "Convolution":
            continue
        source = op.input_value(0).get_node()
        if source.get_type_name() != "FakeQuantize":
            left.append(op.get_friendly_name())
    return left


def _pairs(frames: CalibrationSet) -> list[tuple[np.ndarray, np.ndarray]]:
    """(1 x 3 x H x W input, its sharp target) for each frame."""
    return [(x, target[None]) for x, target in zip(frames.batches(1), frames.targets)]  # type: ignore[arg-type]


def _psnr_vs_targets(compiled: Any, pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> list[float]:
    scores = []
    for x, target in pairs:
        out = np.clip(_run(compiled, x), 0, 1)
        scores.append(compare(target, out)["psnr_db"] or IDENTICAL_PSNR_DB)
    return scores


def quantize_int8(model: Any, request: ExportRequest, size: tuple[int, int], batch: int,
                  fp32_options: dict[str, Any]) -> tuple[Any, dict[str, Any], CalibrationSet]:
    """(INT8 model, what was done, the held-out frames it was not calibrated on)."""
    import nncf

    from edgeir.export.calibration import calibration_frames, describe
    from edgeir.export.sensitive import keep_fp32, sensitive_scopes

    fit, held_out = calibration_frames(request, size, batch)
    budget = request.options.get("max_psnr_drop")
    names = [op.get_friendly_name() for op in model.get_ordered_ops()]
    keep = keep_fp32(request.options.get("keep_fp32"), sensitive_scopes(names))
    scope = ignored_scope(model, keep)
    calibration = nncf.Dataset(list(fit.batches(batch, whole=True)))
    details: dict[str, Any] = {"quantizer": f"nncf {nncf.__version__} post-training quantization",
                               "kept_fp32": list(keep), "calibration": describe(fit, held_out)}
    if budget is None:
        with quietly("nncf"):
            quantized = nncf.quantize(model, calibration, subset_size=len(fit), ignored_scope=scope)
    else:
        if held_out.targets is None:
            raise EdgeIRError(
                "expected calibration frames with sharp targets for --max-psnr-drop (synthetic, "
                f"gopro:DIR or pairs:BLUR_DIR,SHARP_DIR), found {fit.source}, which has none"
            )
        if budget <= 0:
            raise EdgeIRError(f"expected a positive --max-psnr-drop in dB, found {budget}")

        pairs = _pairs(held_out)

        def validate(compiled: Any, data: Iterable[Any]) -> tuple[float, list[float]]:
            # NNCF counts the items consumed here (and may pass a subset): iterate them.
            scores = _psnr_vs_targets(compiled, data)
            return float(np.mean(scores)), scores

        log.info("accuracy-controlled INT8: PSNR drop budget %.2f dB on %d held-out frames",
                 budget, len(held_out))
        with quietly("nncf"):
            quantized = nncf.quantize_with_accuracy_control(
                model, calibration, nncf.Dataset(pairs), validate,
                max_drop=budget, drop_type=nncf.DropType.ABSOLUTE, subset_size=len(fit),
                ignored_scope=scope,
                advanced_accuracy_restorer_parameters=nncf.AdvancedAccuracyRestorerParameters(
                    max_num_iterations=MAX_RESTORED_GROUPS, ranking_subset_size=RANKING_FRAMES),
            )
        reference = float(np.mean(_psnr_vs_targets(_compile(model, fp32_options), pairs)))
        achieved = float(np.mean(_psnr_vs_targets(_compile(quantized, fp32_options), pairs)))
        drop = round(reference - achieved, 3)
        details.update({
            "max_psnr_drop_db": budget,
            "psnr_drop_db": drop,
            "psnr_fp32_vs_sharp_db": round(reference, 2),
            "psnr_int8_vs_sharp_db": round(achieved, 2),
            "within_budget": drop <= budget,
            "accuracy_control": f"NNCF ranked the quantized layer groups on {RANKING_FRAMES} frames "
                                f"and could restore up to {MAX_RESTORED_GROUPS} of them",
        })
        if drop > budget:
            log.warning("INT8 PSNR drop %.3f dB is over the %.2f dB budget: NNCF could not meet "
                        "it with the layers it may return to higher precision", drop, budget)
    details["higher_precision_convolutions"] = higher_precision_convolutions(quantized)
    return quantized, details, held_out


def export_openvino(request: ExportRequest) -> ExportResult:
    import onnx
    import openvino as ov

    target, shapes = request.target, request.shapes
    if request.options.get("max_psnr_drop") is not None and shapes.static and shapes.max_batch > 1:
        raise EdgeIRError(
            "expected --batch 1 with --max-psnr-drop (NNCF validates one frame at a time), "
            f"found --batch {shapes.max_batch}"
        )
    rewrite = exportable(request.weights.build(request.variant, request.task))
    graph = trace(rewrite, shapes, DEFAULT_OPSET)
    with tempfile.TemporaryDirectory(prefix="edgeir-ov-") as tmp:
        # Converted from the same traced, simplified graph the ONNX targets verify.
        onnx_path = Path(tmp) / "model.onnx"
        onnx.save(graph, str(onnx_path))
        log.info("converting to OpenVINO IR")
        model = ov.convert_model(str(onnx_path))

    batch = shapes.max_batch if shapes.static else 1
    size = shapes.opt if shapes.static else shapes.min
    if target.precision == "fp16":
        model = _with_fp16_weights(model)
    runtime_options = dict(PINNED_F32) if target.precision in ("fp32", "int8") else {}
    details: dict[str, Any] = {}
    held_out = None
    fp32_model = model
    if target.precision == "int8":
        model, details, held_out = quantize_int8(model, request, size, batch, PINNED_F32)
    compiled = _compile(model, runtime_options)
    if held_out is not None:
        fp32_compiled = _compile(fp32_model, PINNED_F32)
        details.update(held_out_agreement(lambda b: _run(fp32_compiled, b), lambda b: _run(compiled, b),
                                          held_out, batch))
    x, described = parity_input(batch, size, held_out)
    with torch.no_grad():
        reference = rewrite(torch.from_numpy(x)).numpy()
    used = precision_name(compiled)
    output = _run(compiled, x)
    parity = {
        "reference": "PyTorch export rewrite, FP32",
        "input": described,
        "runtime": f"openvino CPU, inference precision {used}",
        **compare(reference, output),
    }
    details["cpu_inference_precision"] = used
    _check(target.precision, parity, details)

    manifest = request.manifest(parity=parity, details=details, opset=DEFAULT_OPSET,
                                versions=versions("openvino", "nncf", "onnx"),
                                runtime_options=runtime_options)
    for key, value in manifest.metadata().items():
        model.set_rt_info(value, ["edgeir", key.removeprefix("edgeir.")])
    return _write(model, manifest, request.output)


def _check(precision: str, parity: dict[str, Any], details: dict[str, Any]) -> None:
    if precision == "fp32" and not parity["max_abs"] <= FP32_MAX_ABS:
        raise EdgeIRError(
            f"parity check failed: expected OpenVINO (f32 pinned) within {FP32_MAX_ABS} of "
            f"PyTorch, found max abs error {parity['max_abs']:.3g}; nothing was written"
        )
    if precision == "fp16" and not (parity["psnr_db"] or 100) >= FP16_MIN_PSNR:
        raise EdgeIRError(
            f"parity check failed: expected openvino-fp16 within {FP16_MIN_PSNR} dB of PyTorch, "
            f"found {parity['psnr_db']} dB; nothing was written"
        )
    if precision == "int8" and not (parity["psnr_db"] or 100) >= INT8_MIN_PSNR:
        raise EdgeIRError(
            f"parity check failed: expected the INT8 IR within {INT8_MIN_PSNR} dB PSNR of PyTorch, "
            f"found {parity['psnr_db']} dB; nothing was written"
        )
    if precision == "int8" and not details["psnr_vs_fp32_graph_db"] >= INT8_MIN_PSNR:
        raise EdgeIRError(
            f"parity check failed: expected the INT8 IR within {INT8_MIN_PSNR} dB PSNR of the FP32 "
            f"IR, found {details['psnr_vs_fp32_graph_db']} dB; nothing was written; try --calib "
            "with your own frames or --keep-fp32"
        )


def _with_fp16_weights(model: Any) -> Any:
    """The model as ``openvino-fp16`` writes it (weights compressed to FP16, as
    ``save_model`` does), read back into memory, so that the parity check runs the
    weights users get."""
    import openvino as ov

    with tempfile.TemporaryDirectory(prefix="edgeir-ov-fp16-") as tmp:
        xml = Path(tmp) / "model.xml"
        ov.save_model(model, str(xml), compress_to_fp16=True)
        weights = ov.Tensor(np.fromfile(xml.with_suffix(".bin"), dtype=np.uint8))
        return ov.Core().read_model(model=xml.read_text(), weights=weights)


def _write(model: Any, manifest: Any, xml: Path) -> ExportResult:
    """The IR is two files, written in a scratch folder beside the output; the .bin goes
    into place first, then the manifest, then the .xml users open, and a failure removes
    what was placed, so an .xml never stands without its weights and manifest."""
    import openvino as ov

    xml = Path(xml)
    xml.parent.mkdir(parents=True, exist_ok=True)
    weights = xml.with_suffix(".bin")
    with tempfile.TemporaryDirectory(prefix=f".{xml.name}.", suffix=".partial", dir=xml.parent) as tmp:
        staged = Path(tmp) / "model.xml"
        ov.save_model(model, str(staged), compress_to_fp16=False)  # openvino-fp16 is already
        staged_bin = staged.with_suffix(".bin")
        manifest.artifact = {
            "file": xml.name, "sha256": sha256_of(staged), "size_bytes": staged.stat().st_size,
            "weights_file": weights.name, "weights_sha256": sha256_of(staged_bin),
            "weights_size_bytes": staged_bin.stat().st_size,
        }
        try:
            os.replace(staged_bin, weights)
            path = manifest.write(manifest_path(xml))
            os.replace(staged, xml)
        except BaseException:
            for placed in (weights, manifest_path(xml)):
                remove(placed)
            raise
    log.info("wrote %s, %s and %s", xml, xml.with_suffix(".bin").name, path.name)
    return ExportResult(xml, path, manifest)
