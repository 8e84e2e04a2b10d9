"""The one export pipeline every target runs through.

request -> options checked (the table's rules, then the target's own, before any work)
-> the network -> the target's own step (``make``: trace or convert, reduce precision,
quantize) -> verification against PyTorch on fixed frames -> the target's gates
(``edgeir.export.gate``) -> manifest -> atomic write. A target is a row in
``edgeir.export.targets.TARGETS`` and a module with two functions:

``check_options(request)``
    refuses options that cannot work, cheaply (no trace, no frames read);
``make(request, network) -> Product``
    the artifact in memory, with how to run it on this machine, embed the manifest in it
    and write it.
"""

from __future__ import annotations

import logging
import os
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.export.gate import Gate, check_gates
from edgeir.export.parity import compare
from edgeir.export.request import ExportRequest, ExportResult, versions
from edgeir.export.targets import Target, check_available, check_options, get_target
from edgeir.fileio import atomic_path, check_output, remove, sha256_of
from edgeir.manifest import Manifest, manifest_path
from edgeir.models.registry import DEFAULT_TASK, DEFAULT_VARIANT, get_task, get_variant
from edgeir.models.weights import choose_weights
from edgeir.shapes import InputShapes, Size

if TYPE_CHECKING:
    import torch

    from edgeir.calib.sources import CalibrationSet

log = logging.getLogger("edgeir")

DEFAULT_SIZES = "736x1280,256x256,512x512,1088x1920"
"""Enumerated sizes of Core ML exports: 720p (the default, padded to legal), small crops
and 1080p."""
REWRITE_REFERENCE = "PyTorch export rewrite, FP32"


@dataclass
class Network:
    """The network being exported, and the batch and size it is verified (and calibrated) at."""

    faithful: torch.nn.Module
    rewrite: torch.nn.Module
    batch: int
    size: Size

    def rewrite_output(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.rewrite(torch.from_numpy(x)).numpy()


@dataclass
class Product(ABC):
    """What a target's step made. Subclasses run it, embed the manifest and save it; the
    defaults suit an artifact that is one file or one folder."""

    runtime: str
    """Where :meth:`run` runs, for the parity record."""
    versions: tuple[str, ...]
    """Packages whose versions the manifest records (python, edgeir and torch always)."""
    details: dict[str, Any] = field(default_factory=dict)
    held_out: CalibrationSet | None = None
    """Held-out calibration frames: the parity input of INT8 artifacts, whose ranges fit real
    frames, not noise."""
    opset: int | None = None
    runtime_options: dict[str, Any] = field(default_factory=dict)
    precision: str | None = None
    """What was produced, where a target offers several (Core ML's --precision, --quant)."""
    reference: str = REWRITE_REFERENCE
    compared: str | None = None
    """What :meth:`run` runs, where it is not the artifact itself in ``runtime`` (Core ML off
    macOS runs the traced module it was converted from; TensorRT without a GPU, the graph)."""
    gates: tuple[Gate, ...] = ()
    """Gates of this export beyond the target's own (``--max-psnr-drop``'s budget)."""

    @abstractmethod
    def run(self, x: np.ndarray) -> np.ndarray:
        """The artifact's output for an N x 3 x H x W batch, as this machine runs it."""

    def expected(self, network: Network, x: np.ndarray) -> np.ndarray:
        return network.rewrite_output(x)

    def measure(self, x: np.ndarray, expected: np.ndarray, output: np.ndarray) -> None:
        """Figures of the target's own taken on the parity input, into ``details``."""

    def embed(self, manifest: Manifest) -> None:
        """Put the manifest into the artifact, so that it describes itself without the sidecar."""

    @abstractmethod
    def save(self, path: Path) -> None:
        """Write the artifact to ``path`` (a temporary name the pipeline renames)."""

    def artifact_record(self, temp: Path, output: Path) -> dict[str, Any]:
        return {"file": output.name, "sha256": sha256_of(temp), "size_bytes": temp.stat().st_size}

    def write(self, manifest: Manifest, output: Path) -> ExportResult:
        return ExportResult(output, write_single(self, manifest, output), manifest)

    def lines(self, manifest: Manifest) -> list[str]:
        """The target's own lines of the summary ``edgeir export`` prints."""
        return []


def write_single(product: Product, manifest: Manifest, output: Path) -> Path:
    """Save to a temporary name, write the manifest describing those bytes, then rename into
    place: an interruption never leaves an artifact beside a stale manifest."""
    with atomic_path(output) as temp:
        product.save(temp)
        manifest.artifact = product.artifact_record(temp, output)
        path = manifest.write(manifest_path(output))
    log.info("wrote %s and %s", output, path.name)
    return path


def write_with_weights(product: Product, manifest: Manifest, output: Path) -> ExportResult:
    """An artifact of two files (OpenVINO's .xml, ncnn's .param, each with its .bin, which
    ``product.save`` writes beside the path it is given) staged in a scratch folder beside
    the output: the .bin goes into place first, then the manifest, then the file users
    open, and a failure removes what was placed, so a graph never stands without its
    weights and manifest."""
    output.parent.mkdir(parents=True, exist_ok=True)
    weights = output.with_suffix(".bin")
    with tempfile.TemporaryDirectory(prefix=f".{output.name}.", suffix=".partial", dir=output.parent) as tmp:
        staged = Path(tmp) / f"model{output.suffix}"
        product.save(staged)
        staged_bin = staged.with_suffix(".bin")
        manifest.artifact = {
            **product.artifact_record(staged, output),
            "weights_file": weights.name, "weights_sha256": sha256_of(staged_bin),
            "weights_size_bytes": staged_bin.stat().st_size,
        }
        try:
            os.replace(staged_bin, weights)
            path = manifest.write(manifest_path(output))
            os.replace(staged, output)
        except BaseException:
            for placed in (weights, manifest_path(output)):
                remove(placed)
            raise
    log.info("wrote %s, %s and %s", output, weights.name, path.name)
    return ExportResult(output, path, manifest)


def parity_input(batch: int, size: Size, held_out: CalibrationSet | None = None) -> tuple[np.ndarray, str]:
    """(input, its description) for the parity check: held-out calibration frames for INT8
    artifacts, seeded uniform noise otherwise."""
    if held_out is not None:
        x = next(held_out.batches(batch, whole=True))
        return x, f"{batch} held-out calibration frame(s) of {size[0]}x{size[1]} ({held_out.source})"
    x = np.random.default_rng(0).random((batch, 3, *size), dtype=np.float32)
    return x, f"{batch}x3x{size[0]}x{size[1]} uniform [0,1), seed 0"


def _input_shapes(target: Target, task: str, batch: int, shape: Size | None, dynamic: str | None,
                  listed: str | None) -> InputShapes:
    given = [flag for flag, value in (("--size", shape), ("--dynamic", dynamic), ("--sizes", listed))
             if value is not None]
    if len(given) > 1:
        raise EdgeIRError(f"expected one of --size, --dynamic or --sizes, found {' and '.join(given)}")
    if shape is not None:
        return InputShapes.fixed(shape, task, batch)
    if listed is not None or (dynamic is None and target.default_shapes == "enumerated"):
        return InputShapes.enumerated(listed or DEFAULT_SIZES, task, batch)
    return InputShapes.dynamic(dynamic, task, batch)


def default_output(target: Target, variant: str, task: str) -> Path:
    return Path(f"convir-{variant}_{task}_{target.name}{target.suffix}")


def prepare(
    target: str, variant: str = DEFAULT_VARIANT, task: str = DEFAULT_TASK, weights: str | Path | None = None,
    output: str | Path | None = None, shape: Size | None = None, dynamic: str | None = None, batch: int = 1,
    overwrite: bool = False, **options: Any,
) -> ExportRequest:
    """The request with every option checked, before any work: the table's rules, the
    calibration options, the outputs, then the target's own checks."""
    spec = get_target(target)
    get_variant(variant)
    get_task(task)
    chosen_options = check_options(spec, options)
    if "calib" in spec.options:
        from edgeir.export.calibration import check_calibration_options

        check_calibration_options(chosen_options)
    shapes = _input_shapes(spec, task, batch, shape, dynamic, chosen_options.get("shapes"))
    chosen = choose_weights(variant, task, weights)
    check_available(spec)
    out = Path(output) if output is not None else default_output(spec, variant, task)
    if out.suffix != spec.suffix:
        raise EdgeIRError(f"expected an output path ending in {spec.suffix} for {spec.name}, found {out}")
    for path in spec.outputs(out):
        check_output(path, overwrite, folder=path == out and spec.suffix == ".mlpackage")
    request = ExportRequest(spec, variant, task, chosen, out, shapes, chosen_options)
    import_module(spec.module).check_options(request)
    return request


def export(target: str, **arguments: Any) -> ExportResult:
    """Export and verify; see :func:`edgeir.export.export` for the arguments."""
    from edgeir.models import exportable  # torch: not imported by `edgeir --help`

    request = prepare(target, **arguments)
    step = import_module(request.target.module)
    here = getattr(step, "here", None)  # what this machine will and will not do, said before the work
    note = here(request) if here is not None else None
    if note:
        log.info("%s", note)
    faithful = request.weights.build(request.variant, request.task)
    shapes = request.shapes
    network = Network(faithful, exportable(faithful), shapes.max_batch if shapes.static else 1,
                      shapes.opt if shapes.static else shapes.min)
    product: Product = step.make(request, network)

    x, described = parity_input(network.batch, network.size, product.held_out)
    precision = product.precision or request.target.precision
    compared = product.compared or f"the {request.target.name} artifact ({precision}) in {product.runtime}"
    log.info("checking parity: %s against the %s, on %s", compared, product.reference, described)
    expected = product.expected(network, x)
    output = product.run(x)
    parity = {"compared": compared, "reference": product.reference, "input": described, "runtime": product.runtime,
              **compare(expected, output)}
    product.measure(x, expected, output)
    parity["gates"] = check_gates(request.target.gates + product.gates, {"parity": parity, "details": product.details},
                                  f"the {request.target.name} artifact")
    manifest = request.manifest(parity=parity, details=product.details, opset=product.opset,
                                versions=versions(*product.versions), runtime_options=product.runtime_options,
                                precision=product.precision)
    product.embed(manifest)
    result = product.write(manifest, request.output)
    result.lines = summary_lines(result, manifest) + product.lines(manifest)
    return result


def _db(value: Any) -> str:
    return "identical" if value in (float("inf"), "inf") else f"{value} dB"


def summary_lines(result: ExportResult, manifest: Manifest) -> list[str]:
    """What every export reports: the artifact, the manifest, parity, the weights."""
    head = f"{manifest.target} ({manifest.precision}): "
    head += str(result.artifact) if result.status == "ok" else f"engine not built here ({result.extra['why']})"
    parity = manifest.parity
    return [
        head,
        f"  manifest  {result.manifest_path}",
        f"  parity    {parity.get('compared', 'the artifact')}",
        f"            against the {parity['reference']}, on {parity['input']}: PSNR {_db(parity['psnr_db'])}, "
        f"max abs {parity['max_abs']:.2e}",
        f"  weights   {manifest.weights['description']}",
    ]
