"""The benchmark: every target exported, loaded and run on one evaluation set, measured the
same way.

Each target goes through the library as a user would (``edgeir.export.export`` with the
manifest-keyed cache below, ``edgeir.runtimes.load``, ``Restorer``), so padding, tiling and
host/device copies are part of the latency; for runtimes on a GPU the same frame is also
timed on the device alone (CUDA events), so copies and overhead can be told apart. A target whose runtime or device is missing
is ``skipped: REASON``; one that breaks is ``failed: REASON``; the run goes on either way.
With ``isolate`` each target is exported in one fresh process and measured in another, so
its peak memory is its runtime's own and a crash in an exporter or a runtime cannot take the
report with it.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.bench.evalset import EvalSet
from edgeir.bench.measure import (
    DEVICE_FIELDS,
    FIELDS,
    Skipped,
    TargetResult,
    in_fresh_process,
    measure_int8_share,
    measure_runtime,
    peak_rss_mb,
    record_error,
)
from edgeir.bench.steps import Steps, logged_as_steps
from edgeir.errors import EdgeIRError
from edgeir.fileio import atomic_path, read_json_object
from edgeir.schema import check_fields

__all__ = ["DEVICE_FIELDS", "FIELDS", "REFERENCE", "BenchConfig", "TargetResult", "measure", "parse_targets"]

log = logging.getLogger("edgeir")

REFERENCE = "torch"
"""The FP32 PyTorch run every PSNR drop is measured against."""


def all_targets() -> list[str]:
    """``torch`` then every export target, in the table's order: a target added to the
    table is benchmarked without any change here."""
    from edgeir.export.targets import TARGETS

    return [REFERENCE, *TARGETS]


def parse_targets(spec: str) -> list[str]:
    known = all_targets()
    if spec == "all":
        return known
    chosen = [t.strip() for t in spec.split(",") if t.strip()]
    unknown = [t for t in chosen if t not in known]
    if unknown or not chosen:
        raise EdgeIRError(f"expected --targets all or a comma list of {', '.join(known)}, found {spec!r}")
    return list(dict.fromkeys(chosen))


@dataclass
class BenchConfig:
    variant: str
    task: str
    weights: str | None
    evalset: EvalSet
    out: Path
    runs: int = 20
    warmup: int = 3
    batch: int = 1
    tile: int | None = None
    device: str | None = None
    y_channel: bool = False
    """Score PSNR and SSIM on BT.601 luma instead of RGB."""


def _artifact_size_mb(path: Path) -> float:
    from edgeir.runtimes import artifact_files

    files = artifact_files(path)
    return round(sum(p.stat().st_size for p in files if p.exists()) / 1e6, 2)


# -- export, cached by what the manifest records --------------------------------------------

def _export_request(config: BenchConfig, target: str) -> dict[str, Any]:
    """What the export is asked: recorded with the artifact, compared on the next run. The
    shape is the legal size the evaluation frames are padded to (720x1280 runs at 736x1280)."""
    from edgeir.models.registry import get_task
    from edgeir.models.size import legal_size_for

    size = config.evalset.frame_size
    if size is not None:
        size = legal_size_for(size[0], size[1], get_task(config.task).dilations)
    request: dict[str, Any] = {"variant": config.variant, "task": config.task, "weights": config.weights,
                               "batch": config.batch}
    from edgeir.export.targets import get_target

    spec = get_target(target)
    if size is not None:
        text = f"{size[0]}x{size[1]}"
        if spec.default_shapes == "enumerated":
            request.update(shape=size, batch=1)  # Core ML: that size, one frame per call
        else:
            request["dynamic"] = f"{text}:{text}:{text}"  # any batch up to --batch at that size
    return request


def _cache_record(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + ".bench.json")


RECORD_SCHEMA = {"request": "an object", "sha256": "a string", "export_s": "a finite number"}
"""A cache record (``ARTIFACT.bench.json``): what the export was asked, the sha256 its
manifest records and how long it took."""


def _cached(artifact: Path, request: dict[str, Any]) -> float | None:
    """The export time of an artifact made for this very request whose files are the ones
    that export wrote, or None: export again. A damaged record or manifest, or an artifact
    file changed since (a zeroed weight, a half-copied ``.bin``), is said in one line and
    exported again, never a failure. The files are hashed as ``edgeir.runtimes.load`` checks
    them (every file of the artifact against its manifest): a second or less for a large
    model, against minutes of export."""
    from edgeir.manifest import Manifest, manifest_path
    from edgeir.runtimes import check_manifest_matches

    record, sidecar = _cache_record(artifact), manifest_path(artifact)
    if not (artifact.exists() and record.is_file() and sidecar.is_file()):
        return None
    try:
        saved = read_json_object(record, "a bench cache record")
        check_fields(saved, RECORD_SCHEMA, record)
    except EdgeIRError as exc:
        log.warning("%s: exporting again, its cache record is damaged: %s", artifact.name, exc)
        return None
    if saved["request"] != json.loads(json.dumps(request)):  # as the record holds it (tuples become lists)
        return None  # asked otherwise this time: not an error
    try:
        manifest = Manifest.read(sidecar)
        if saved["sha256"] != manifest.artifact.get("sha256"):
            raise EdgeIRError(f"expected {sidecar.name} to record the sha256 in {record.name}, found another")
        check_manifest_matches(manifest, artifact, sidecar)
    except EdgeIRError as exc:
        log.warning("%s: exporting again, the cached export does not match its record: %s", artifact.name, exc)
        return None
    return float(saved["export_s"])


def export_target(config: BenchConfig, target: str) -> tuple[Path, float, bool]:
    """(artifact, export seconds, whether it came from the cache)."""
    from edgeir.export import default_output, export
    from edgeir.export.targets import get_target

    spec = get_target(target)
    artifact = config.out / "models" / default_output(spec, config.variant, config.task)
    request = _export_request(config, target)
    seconds = _cached(artifact, request)
    if seconds is not None:
        return artifact, seconds, True
    start = time.perf_counter()
    # The models folder is the bench's own cache: a stale export in it is replaced.
    result = export(target, output=artifact, overwrite=True, **request)
    seconds = round(time.perf_counter() - start, 1)
    if result.artifact is None:
        raise Skipped(f"{result.extra.get('why', 'no artifact built here')}")
    with atomic_path(_cache_record(artifact)) as temp:  # a record cut short is never read as one
        temp.write_text(json.dumps({"request": request, "sha256": result.manifest.artifact.get("sha256"),
                                    "export_s": seconds}))
    return result.artifact, seconds, False


# -- one target -----------------------------------------------------------------------------

def why_skipped(target: str) -> str | None:
    """Why this machine cannot benchmark ``target`` (the exporter's packages, the runtime or
    its device are missing), or None: decided before any export, which may take minutes."""
    from edgeir.export.targets import check_available, get_target
    from edgeir.runtimes import why_unavailable

    if target == REFERENCE:
        return None
    spec = get_target(target)
    try:
        check_available(spec)
    except EdgeIRError as exc:
        return str(exc)
    missing = why_unavailable(spec.runtime)
    return None if missing is None else f"{spec.runtime} cannot run here: {missing}"


def export_artifact(config: BenchConfig, target: str) -> tuple[Path, dict[str, Any]]:
    """The target's artifact, exported unless cached, and facts about how it was made;
    raises ``Skipped`` where this machine lacks the exporter's packages or the runtime."""
    why = why_skipped(target)
    if why is not None:
        raise Skipped(why)
    artifact, seconds, cached = export_target(config, target)
    return artifact, {"export_s": seconds, "cached_export": cached, "artifact": str(artifact),
                      "size_mb": _artifact_size_mb(Path(artifact))}


def open_runtime(config: BenchConfig, target: str) -> tuple[Any, dict[str, Any]]:
    """(runtime, facts about how it was made); raises ``Skipped`` where this machine lacks
    the runtime or device."""
    from edgeir.runtimes import load

    if target == REFERENCE:
        from edgeir.models.weights import choose_weights
        from edgeir.runtimes.torch_backend import TorchRuntime

        weights = choose_weights(config.variant, config.task, config.weights)
        return TorchRuntime(weights, config.device, task=config.task, variant=config.variant), {"export_s": 0.0}
    artifact, made = export_artifact(config, target)
    try:
        runtime = load(artifact, config.device)
    except EdgeIRError as exc:
        raise Skipped(str(exc)) from None
    return runtime, made


def prepare(config: BenchConfig, target: str, steps: Steps | None = None) -> TargetResult | None:
    """Export ``target`` into the cache; the result only when that already ended it
    (skipped or failed). Run in a process of its own, so that the measuring process's
    peak memory is the runtime's, not the exporter's."""
    if target == REFERENCE:
        return None
    try:
        with logged_as_steps(steps or Steps(), "exporting"):
            export_artifact(config, target)
    except Exception as exc:  # a broken target must not end the benchmark
        result = TargetResult(target)
        record_error(result, exc)
        return result
    return None


def measure(config: BenchConfig, target: str, reference: list[np.ndarray] | None,
            steps: Steps | None = None) -> TargetResult:
    """Everything for one target; ``reference`` holds the torch FP32 outputs (None while the
    reference itself is measured). Errors become the result's status."""
    steps = steps or Steps()
    result = TargetResult(target)
    try:
        with logged_as_steps(steps, "loading"):
            runtime, made = open_runtime(config, target)
        result.export_s, result.size_mb = made.get("export_s"), made.get("size_mb")
        result.extra.update({k: v for k, v in made.items() if k not in ("export_s", "size_mb")})
        pairs = [(blurred, sharp) for _, blurred, sharp in config.evalset]
        outputs = measure_runtime(result, runtime, pairs, reference, config, steps)
        result.extra["outputs"] = outputs if target == REFERENCE else None
        result.peak_rss_mb = round(peak_rss_mb(), 1)  # the runtime's own, before the profiled run
        steps.step("profiling the convolution kernels")
        measure_int8_share(result, runtime, pairs[0][0], config)
    except Exception as exc:  # a broken target must not end the benchmark
        record_error(result, exc)
    if result.peak_rss_mb is None and not result.status.startswith("skipped"):  # a skipped target ran nothing worth a figure
        result.peak_rss_mb = round(peak_rss_mb(), 1)
    return result


def run_target(config: BenchConfig, target: str, reference: list[np.ndarray] | None,
               isolate: bool, steps: Steps | None = None) -> TargetResult:
    """With ``isolate``, the export and the measurement each run in a fresh process."""
    if not isolate:
        return prepare(config, target, steps) or measure(config, target, reference, steps)
    early = in_fresh_process(target, "exporting", prepare, config, target, steps=steps)
    if early is not None:
        return early
    return in_fresh_process(target, "running", measure, config, target, reference, steps=steps)
