"""``edgeir pack``: export targets on the host into a bundle the device benchmarks.

The host has torch, the converters and the quantizers; the device has numpy and one
runtime. So everything that needs the host is done here: every artifact is exported (for
trt-* the TRT-ready ONNX, since engines are built on the GPU that runs them), the
evaluation frames are written with their ground truth, and the torch FP32 outputs on them
are kept as the reference every PSNR drop on the device is measured against.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.bench import bundle as fmt
from edgeir.bench.harness import REFERENCE, BenchConfig, export_target, open_runtime
from edgeir.bench.measure import TargetResult, measure_runtime
from edgeir.errors import EdgeIRError
from edgeir.fileio import atomic_path, check_writable
from edgeir.manifest import Manifest, manifest_path
from edgeir.models.weights import choose_weights

log = logging.getLogger("edgeir")


def _artifact_files(artifact: Path) -> list[Path]:
    """The artifact's files with its manifest (an IR's .bin, a package's folder contents)."""
    from edgeir.runtimes import artifact_files

    return [*artifact_files(artifact), manifest_path(artifact)]


def _export_trt_onnx(config: BenchConfig, target: str, models: Path) -> tuple[Path, float]:
    """The TRT-ready ONNX of a trt-* target (an engine built on this host, if any, is not
    packed: it runs only on this GPU)."""
    from edgeir.bench.harness import _export_request
    from edgeir.export import default_output, export
    from edgeir.export.targets import get_target

    output = models / default_output(get_target(target), config.variant, config.task)
    started = time.perf_counter()
    result = export(target, output=output, overwrite=True, **_export_request(config, target))  # the bundle's staging folder
    onnx = Path(result.extra["onnx"])
    if result.artifact is not None:
        for built in (result.artifact, manifest_path(result.artifact)):
            Path(built).unlink(missing_ok=True)
    return onnx, round(time.perf_counter() - started, 1)


def _packed_target(config: BenchConfig, target: str, staging: Path, root: Path) -> fmt.BundleTarget:
    from edgeir.export.targets import get_target

    spec = get_target(target)
    models = root / fmt.MODELS
    if spec.runtime == "tensorrt":
        artifact, seconds = _export_trt_onnx(config, target, models)
    else:
        exported, seconds, _ = export_target(replace(config, out=staging), target)
        artifact = models / exported.name
        for source in _artifact_files(exported):
            destination = models / source.relative_to(exported.parent)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    files = [p.relative_to(root).as_posix() for p in _artifact_files(artifact)]
    size = round(sum((root / f).stat().st_size for f in files[:-1]) / 1e6, 2)
    precision = Manifest.read(manifest_path(artifact)).precision
    return fmt.BundleTarget(target, spec.runtime, precision, artifact.relative_to(root).as_posix(),
                            tuple(files), size, seconds)


def _check_targets(targets: list[str]) -> None:
    """Every exporter's packages, before minutes of exporting (a missing runtime on this
    host is fine: the device runs the artifacts)."""
    from edgeir.export.targets import check_available, get_target

    if REFERENCE in targets:
        raise EdgeIRError("expected export targets to pack, found torch: the bundle always holds the "
                          "torch FP32 outputs as its reference")
    for target in targets:
        check_available(get_target(target))


def pack(config: BenchConfig, targets: list[str], cache: Path | None = None) -> Path:
    """Write the bundle into ``config.out`` (a new folder, renamed into place when complete);
    ``cache`` is a folder of earlier exports to reuse (an ``edgeir bench --out`` folder)."""
    from edgeir.bench.machine import describe
    from edgeir.progress import progress_bar

    _check_targets(targets)
    out = Path(config.out)
    if out.exists():
        raise EdgeIRError(f"expected a new folder for the bundle, found {out}: remove it or choose another --out")
    check_writable(out.parent)
    pairs = [(blurred, sharp) for _, blurred, sharp in config.evalset]
    names = [name for name, _, _ in config.evalset]
    if not pairs:
        raise EdgeIRError(f"expected at least one evaluation pair, found none in {config.evalset.spec}")
    with atomic_path(out) as root:
        root.mkdir()
        staging = cache if cache is not None else root / ".exports"
        reference = TargetResult(REFERENCE)
        with progress_bar("targets") as bar:
            task = bar.add_task("packing torch reference", total=len(targets) + 1)
            runtime, _ = open_runtime(config, REFERENCE)
            outputs = measure_runtime(reference, runtime, pairs, None, config)
            bar.advance(task)
            packed = []
            for target in targets:
                bar.update(task, description=f"packing {target}")
                packed.append(_packed_target(config, target, Path(staging), root))
                bar.console.print(f"{target}: packed {packed[-1].artifact}")
                bar.advance(task)
        if cache is None:
            shutil.rmtree(root / ".exports", ignore_errors=True)
        np.savez(root / fmt.FRAMES, **{f"blurred_{i:04d}": b for i, (b, _) in enumerate(pairs)},
                 **{f"sharp_{i:04d}": s for i, (_, s) in enumerate(pairs)})
        np.savez(root / fmt.REFERENCE, **{f"output_{i:04d}": o.astype(np.float32) for i, o in enumerate(outputs)})
        listed = [fmt.FRAMES, fmt.REFERENCE, *(f for t in packed for f in t.files)]
        index: dict[str, Any] = {
            "format": fmt.FORMAT,
            "format_version": fmt.FORMAT_VERSION,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "host": describe(),
            "evaluation": {
                "variant": config.variant, "task": config.task, "weights": runtime.info.weights,
                "data": config.evalset.spec, "size": config.evalset.frame_size,
                "limit": config.evalset.limit, "y_channel": config.y_channel, "tile": config.tile,
                "names": names, "description": config.evalset.describe(),
            },
            "weights": choose_weights(config.variant, config.task, config.weights).record(),
            "reference": {"target": REFERENCE, "precision": reference.precision, "psnr": reference.psnr,
                          "ssim": reference.ssim, "device": reference.extra.get("device")},
            "targets": [t.to_dict() for t in packed],
            "files": fmt.file_hashes(root, listed),
        }
        (root / fmt.INDEX).write_text(json.dumps(index, indent=2) + "\n")
    log.info("wrote the bundle %s (%d targets, %d frames)", out, len(packed), len(pairs))
    return out
