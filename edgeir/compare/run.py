"""Run two sides on the same frames and score every layer they share.

A side is an artifact edgeir wrote (``.onnx``, ``.trt.onnx``, ``.xml``, with its manifest
beside it) or ``torch``: the PyTorch export rewrite built from the other side's manifest
(its variant, task and weights, or ``weights`` given). A is the reference, B the
candidate. Frames are drawn as calibration draws them, at the artifacts' size: a static
artifact's own (in whole batches of its batch), else ``size`` (default 256x256).
"""

from __future__ import annotations

import logging
from pathlib import Path

from edgeir.compare import DEFAULT_COUNT, DEFAULT_JUMP_DB, DEFAULT_SIZE
from edgeir.compare.capture import (
    TORCH_NAMES,
    Side,
    TorchSide,
    open_artifact,
    read_artifact_manifest,
)
from edgeir.compare.layers import match
from edgeir.compare.report import Comparison, LayerResult, Score
from edgeir.errors import EdgeIRError
from edgeir.manifest import Manifest
from edgeir.models.weights import Weights, choose_weights
from edgeir.shapes import Size

log = logging.getLogger("edgeir")


def is_torch(spec: str | Path) -> bool:
    return str(spec).lower() in TORCH_NAMES


def _same_network(manifests: dict[str, Manifest]) -> Manifest:
    """The one variant and task both artifacts hold."""
    (name_a, a), *rest = manifests.items()
    for name_b, b in rest:
        if (a.variant, a.task) != (b.variant, b.task):
            raise EdgeIRError(f"expected two artifacts of one variant and task, found {a.variant}/{a.task} in "
                              f"{name_a} and {b.variant}/{b.task} in {name_b}")
    return a


def frame_plan(manifests: dict[str, Manifest], size: Size | None) -> tuple[Size, int]:
    """(size, batch) every artifact accepts: a static artifact's, else ``size`` (default
    256x256) at batch 1."""
    from edgeir.models.registry import get_task
    from edgeir.models.size import check_size

    static = {name: m.input_shapes for name, m in manifests.items() if m.input_shapes.static}
    if static:
        found = {(shapes.opt, shapes.max_batch) for shapes in static.values()}
        if len(found) > 1:
            described = " and ".join(f"{s.describe()} in {name}" for name, s in static.items())
            raise EdgeIRError(f"expected static artifacts of one input shape, found {described}")
        (hw, batch), = found
        if size is not None and tuple(size) != hw:
            name = next(iter(static))
            raise EdgeIRError(f"expected --size {hw[0]}x{hw[1]} (the static size of {name}) or none, found "
                              f"{size[0]}x{size[1]}")
    else:
        hw, batch = tuple(size or DEFAULT_SIZE), 1
    task = next(iter(manifests.values())).task
    check_size(hw[0], hw[1], get_task(task).dilations, f"ConvIR ({task})")
    for name, manifest in manifests.items():
        try:
            manifest.input_shapes.check(batch, *hw)
        except EdgeIRError as exc:
            raise EdgeIRError(f"{name}: {exc}") from None
    return (int(hw[0]), int(hw[1])), batch


def torch_weights(manifest: Manifest, weights: str | Path | None) -> tuple[Weights, list[str]]:
    """The weights to rebuild the PyTorch model with: ``weights`` when given, else those the
    artifact was exported from, as its manifest records them. Random initialisation cannot
    be rebuilt, nor a checkpoint that moved or changed: those need ``--weights``."""
    variant, task, record = manifest.variant, manifest.task, manifest.weights
    notes: list[str] = []
    if weights is not None:
        chosen = choose_weights(variant, task, weights)
        recorded = record.get("sha256")
        if recorded and chosen.path is not None:
            from edgeir.fileio import sha256_of

            if sha256_of(chosen.path) != recorded:
                notes.append(f"--weights {chosen.path.name} are not the weights the artifact was exported from "
                             f"({record.get('description')}): differences include the weights themselves")
        return chosen, notes
    kind = record.get("kind")
    if kind == "demo":
        return choose_weights(variant, task, "demo"), notes
    if kind == "checkpoint" and record.get("path"):
        path = Path(str(record["path"]))
        if not path.is_file():
            raise EdgeIRError(f"expected the checkpoint the artifact was exported from at {path}, found nothing: "
                              "pass --weights CHECKPOINT")
        from edgeir.fileio import sha256_of

        if record.get("sha256") and sha256_of(path) != record["sha256"]:
            raise EdgeIRError(f"expected the checkpoint the artifact was exported from at {path}, found a "
                              "different file (sha256 differs): pass --weights CHECKPOINT")
        return choose_weights(variant, task, path), notes
    raise EdgeIRError(f"expected weights torch can rebuild, found {record.get('description') or 'none recorded'} "
                      "in the manifest (random initialisation differs every run): pass --weights CHECKPOINT")


def compare_layers(
    a: str | Path, b: str | Path, frames: str | Path = "synthetic", count: int = DEFAULT_COUNT,
    size: Size | None = None, weights: str | Path | None = None, jump_db: float = DEFAULT_JUMP_DB,
    progress: bool = True,
) -> Comparison:
    """Run ``a`` (the reference) and ``b`` on the same frames and score the output of
    every convolution both have (matched by module path, see ``edgeir.compare.layers``)
    and the network's output. ``a`` / ``b`` are artifact paths or ``torch``."""
    import math

    if not (isinstance(jump_db, (int, float)) and math.isfinite(jump_db) and jump_db > 0):
        raise EdgeIRError(f"expected a positive number of dB for the jump threshold, found {jump_db!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise EdgeIRError(f"expected at least 1 frame to compare on, found {count!r}")
    specs = {"A": a, "B": b}
    paths = {side: Path(spec) for side, spec in specs.items() if not is_torch(spec)}
    if not paths:
        raise EdgeIRError("expected at least one artifact to compare, found torch as both A and B")
    if weights is not None and len(paths) == 2:
        raise EdgeIRError("expected --weights with torch as A or B, found two artifacts (their weights are in them)")
    manifests = {side: read_artifact_manifest(path) for side, path in paths.items()}
    first = _same_network({f"{side} ({paths[side].name})": m for side, m in manifests.items()})
    hw, batch = frame_plan({f"{side} ({paths[side].name})": m for side, m in manifests.items()}, size)
    if count < batch:
        raise EdgeIRError(f"expected at least {batch} frames (the static batch of the artifact), found --count {count}")

    from edgeir.calib.sources import open_calibration

    frame_set = open_calibration(frames, hw, count, task=first.task)
    batches = list(frame_set.batches(batch, whole=True))[: count // batch]  # a .npz holds what it holds
    if not batches:
        raise EdgeIRError(f"expected at least {batch} frames from {frames}, found {len(frame_set)}")
    used = len(batches) * batch
    described = {"source": frame_set.source, "count": used, "size": list(hw), "batch": batch}

    sides: dict[str, Side] = {}
    notes: list[str] = []
    try:
        for side, spec in specs.items():
            log.info("opening %s: %s", side, spec)
            if side in paths:
                sides[side] = open_artifact(paths[side], manifests[side])
            else:
                chosen, weight_notes = torch_weights(first, weights)
                notes += weight_notes
                sides[side] = TorchSide(chosen, first.variant, first.task, batches[0])
        side_a, side_b = sides["A"], sides["B"]
        matching = match(side_a.layers, side_b.layers, order_by="a" if side_a.graph or not side_b.graph else "b")
        if not matching.pairs:
            raise EdgeIRError(f"expected convolutions that both sides name alike, found none in common "
                              f"({len(side_a.layers)} in A, {len(side_b.layers)} in B)")
        keys = [layer_a.key for layer_a, _ in matching.pairs]
        scores = [Score() for _ in keys]
        output = Score()
        with _progress(progress) as bar:
            task = bar.add_task("comparing layer by layer", total=used)
            for x in batches:
                out_a, layers_a = side_a.run(x, keys)
                out_b, layers_b = side_b.run(x, keys)
                output.add(out_a, out_b, layer=False)
                for key, score in zip(keys, scores):
                    score.add(layers_a.pop(key), layers_b.pop(key), layer=True)
                bar.advance(task, len(x))
    finally:
        for opened in sides.values():
            opened.close()
    results = [LayerResult(i, la.label, la.name, lb.name, s.psnr_db, s.max_abs)
               for i, ((la, lb), s) in enumerate(zip(matching.pairs, scores))]
    return Comparison(side_a.label, side_b.label, described, results,
                      [x.name for x in matching.only_a], [x.name for x in matching.only_b],
                      output, jump_db, notes)


def _progress(shown: bool) -> object:
    """Progress on stderr (rich bars or plain lines), or a silent stand-in."""
    from edgeir.progress import PlainProgress, progress_bar

    if shown:
        return progress_bar("frames")
    quiet = PlainProgress()
    quiet.disable = True
    return quiet
