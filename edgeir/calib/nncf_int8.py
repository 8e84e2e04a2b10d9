"""INT8 OpenVINO IR with NNCF post-training quantization, optionally accuracy-controlled.

Only convolutions are quantized (:data:`NOT_QUANTIZED_TYPES` are left in floating point),
as on the ONNX Runtime path. ``--max-psnr-drop`` runs NNCF's accuracy control: it ranks the
quantized layer groups by what they cost against the sharp held-out frames and returns the
worst to floating point until the budget holds or :data:`MAX_RESTORED_GROUPS` were tried.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any

import numpy as np

from edgeir.bench.metrics import mean_db, psnr_db
from edgeir.calib.budget import check_sharp, drop_record, sharp_psnr
from edgeir.calib.sources import CalibrationSet
from edgeir.errors import EdgeIRError
from edgeir.quiet import quietly

log = logging.getLogger("edgeir")

MAX_RESTORED_GROUPS = 16
"""Layer groups accuracy control may return to higher precision: each costs a compile and a
validation pass, and ConvIR has too many quantized convolutions to try them all."""
RANKING_FRAMES = 2
"""Held-out frames NNCF ranks layer groups on (it compiles the model once per group)."""
NOT_QUANTIZED_TYPES = ("Add", "Multiply", "Subtract", "ReduceMean", "Interpolate", "AvgPool",
                       "Concat", "MVN")
"""Ops whose inputs NNCF would also quantize by default; only convolutions are: quantizing
the element-wise ops of the dynamic filters as well costs PSNR for little speed
(docs/benchmarks.md); the ONNX INT8 path quantizes only ``Conv`` for the same reason."""


def run_compiled(compiled: Any, x: np.ndarray) -> np.ndarray:
    """The single output of a compiled OpenVINO model."""
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
    """NNCF's validation: the items it passes, one frame each."""
    return [psnr_db(target, np.clip(run_compiled(compiled, x), 0, 1)) for x, target in pairs]


def quantize(
    model: Any, fit: CalibrationSet, held_out: CalibrationSet, keep: Sequence[str], batch: int,
    max_psnr_drop: float | None, compile_fp32: Callable[[Any], Any],
) -> tuple[Any, dict[str, Any]]:
    """(INT8 model, what was done). ``compile_fp32`` compiles a model the way its FP32
    reference runs (precision pinned), for measuring the drop against the budget."""
    import nncf

    scope = ignored_scope(model, keep)
    calibration = nncf.Dataset(list(fit.batches(batch, whole=True)))
    details: dict[str, Any] = {"quantizer": f"nncf {nncf.__version__} post-training quantization",
                               "kept_fp32": list(keep)}
    if max_psnr_drop is None:
        with quietly("nncf"):
            quantized = nncf.quantize(model, calibration, subset_size=len(fit), ignored_scope=scope)
    else:
        check_sharp(held_out)
        quantized = _quantize_within(model, calibration, scope, len(fit), held_out, max_psnr_drop)
        details.update(_budget_report(model, quantized, held_out, max_psnr_drop, compile_fp32))
    details["higher_precision_convolutions"] = higher_precision_convolutions(quantized)
    return quantized, details


def _quantize_within(model: Any, calibration: Any, scope: Any, subset: int, held_out: CalibrationSet,
                     budget: float) -> Any:
    import nncf

    def validate(compiled: Any, data: Iterable[Any]) -> tuple[float, list[float]]:
        # NNCF counts the items consumed here (and may pass a subset): iterate them.
        scores = _psnr_vs_targets(compiled, data)
        return mean_db(scores), scores

    log.info("accuracy-controlled INT8: PSNR drop budget %.2f dB on %d held-out frames",
             budget, len(held_out))
    with quietly("nncf"):
        return nncf.quantize_with_accuracy_control(
            model, calibration, nncf.Dataset(_pairs(held_out)), validate,
            max_drop=budget, drop_type=nncf.DropType.ABSOLUTE, subset_size=subset,
            ignored_scope=scope,
            advanced_accuracy_restorer_parameters=nncf.AdvancedAccuracyRestorerParameters(
                max_num_iterations=MAX_RESTORED_GROUPS, ranking_subset_size=RANKING_FRAMES),
        )


def _budget_report(model: Any, quantized: Any, held_out: CalibrationSet, budget: float,
                   compile_fp32: Callable[[Any], Any]) -> dict[str, Any]:
    reference = sharp_psnr(partial(run_compiled, compile_fp32(model)), held_out, 1)
    achieved = sharp_psnr(partial(run_compiled, compile_fp32(quantized)), held_out, 1)
    return {
        **drop_record(reference, achieved, budget),
        "restored_to": "FP32",
        "accuracy_control": f"NNCF ranked the quantized layer groups on {RANKING_FRAMES} frames "
                            f"and could restore up to {MAX_RESTORED_GROUPS} of them",
    }
