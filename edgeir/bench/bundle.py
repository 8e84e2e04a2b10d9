"""The bundle: what ``edgeir pack`` writes on the host and ``edgeir bench --bundle`` reads on
the device.

One folder::

    bundle.json              what is in it, the sha256 of every file, host, versions, settings
    frames.npz               evaluation frames (blurred) and their ground truth (sharp), uint8
    reference.npz            the torch FP32 outputs on those frames, float32
    models/                  every artifact with its manifest (for trt-*: the TRT-ready ONNX)
    engines/                 TensorRT engines built on the device (not listed: a cache)

Opening a bundle checks ``bundle.json`` against its schema, that every path in it stays
inside the bundle (symlinks followed), and every listed file against its sha256, so a
hand-edited index, a path out of the folder, a missing file, a changed byte or an artifact
copied from another bundle is refused with its name before anything runs; the frames and
the reference are checked (dtype, shape, finite) when they are read. Reading needs numpy
only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.fileio import inside, read_json_object, sha256_of
from edgeir.saved_arrays import check_image, read_arrays
from edgeir.schema import check_fields

FORMAT = "edgeir-bundle"
FORMAT_VERSION = 1
INDEX = "bundle.json"
FRAMES = "frames.npz"
REFERENCE = "reference.npz"
MODELS = "models"
ENGINES = "engines"
"""The device's engine cache: the one part of a bundle that the bench writes to."""

INDEX_SCHEMA = {"created": "a string", "files": "an object of strings", "targets": "a list of objects",
                "evaluation": "an object", "reference": "an object"}
EVALUATION_SCHEMA = {"names": "a non-empty list of strings", "description": "a string",
                     "y_channel": "true or false", "tile": "a positive integer or null"}
REFERENCE_SCHEMA = {"psnr": "a finite number"}
TARGET_SCHEMA = {"target": "a string", "runtime": "a string", "precision": "a string", "artifact": "a string",
                 "files": "a list of strings", "size_mb": "a number or null", "export_s": "a number or null"}
"""What ``bundle.json`` must hold: everything the device bench reads from it."""


@dataclass(frozen=True)
class BundleTarget:
    target: str
    runtime: str
    """The runtime that runs it on the device (``tensorrt`` for trt-*, built from ``artifact``)."""
    precision: str
    artifact: str
    """Path inside the bundle: the artifact, or for trt-* the TRT-ready ONNX."""
    files: tuple[str, ...]
    size_mb: float | None = None
    export_s: float | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BundleTarget:
        return cls(data["target"], data["runtime"], data["precision"], data["artifact"],
                   tuple(data["files"]), data.get("size_mb"), data.get("export_s"))

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "runtime": self.runtime, "precision": self.precision,
                "artifact": self.artifact, "files": list(self.files), "size_mb": self.size_mb,
                "export_s": self.export_s}


@dataclass
class Bundle:
    root: Path
    index: dict[str, Any]

    @property
    def targets(self) -> list[BundleTarget]:
        return [BundleTarget.from_dict(t) for t in self.index["targets"]]

    @property
    def evaluation(self) -> dict[str, Any]:
        return self.index["evaluation"]

    @property
    def reference_psnr(self) -> float:
        """The host's torch FP32 PSNR on the frames: what every PSNR drop is measured from."""
        return float(self.index["reference"]["psnr"])

    def path(self, relative: str, what: str = "a path of the bundle") -> Path:
        """``root / relative``, refused in one line when it leads outside the bundle."""
        return inside(self.root, relative, what)

    def pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(blurred, sharp) H x W x 3 uint8 pairs of one size, one per name of ``bundle.json``,
        in the order they were packed."""
        names = self.evaluation["names"]
        path = self.path(FRAMES)
        arrays = _arrays(path, "the evaluation frames", [f"{kind}_{i:04d}" for kind in ("blurred", "sharp")
                                                         for i in range(len(names))], len(names))
        pairs = []
        for i, name in enumerate(names):
            blurred, sharp = arrays[f"blurred_{i:04d}"], arrays[f"sharp_{i:04d}"]
            check_image(blurred, f"blurred_{i:04d} ({name}) in {path}", "uint8")
            check_image(sharp, f"sharp_{i:04d} ({name}) in {path}", "uint8", blurred.shape, "its blurred frame")
            pairs.append((blurred, sharp))
        return pairs

    def reference(self, pairs: list[tuple[np.ndarray, np.ndarray]] | None = None) -> list[np.ndarray]:
        """The host's torch FP32 outputs: float32, finite, each of its sharp frame's shape."""
        pairs = self.pairs() if pairs is None else pairs
        path = self.path(REFERENCE)
        arrays = _arrays(path, "the torch FP32 outputs", [f"output_{i:04d}" for i in range(len(pairs))], len(pairs))
        outputs = []
        for i, (_, sharp) in enumerate(pairs):
            check_image(arrays[f"output_{i:04d}"], f"output_{i:04d} in {path}", "float32", sharp.shape, "its frame")
            outputs.append(arrays[f"output_{i:04d}"])
        return outputs


def _arrays(path: Path, what: str, expected: list[str], count: int) -> dict[str, np.ndarray]:
    """The arrays of ``path``, exactly the ``expected`` ones (``count`` frames, as named in
    ``bundle.json``), or one line saying which is missing or extra."""
    arrays = read_arrays(path, what)
    missing = [name for name in expected if name not in arrays]
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        found = f"no {missing[0]}" if missing else f"an extra array {extra[0]}"
        raise EdgeIRError(f"expected {what} in {path} for the {count} frames {INDEX} names, found {found} "
                          f"({len(arrays)} arrays)")
    return arrays


def check_index(index: dict[str, Any], source: Path) -> None:
    """``bundle.json`` as ``edgeir pack`` writes it, in one place: format, version and the
    kind of every field the device reads; one line naming the first field that is not."""
    if index.get("format") != FORMAT:
        raise EdgeIRError(f"expected an {FORMAT} index in {source}, found another JSON file")
    if index.get("format_version") != FORMAT_VERSION:
        raise EdgeIRError(f"expected bundle format version {FORMAT_VERSION} in {source}, "
                          f"found {index.get('format_version')!r}: pack it again with this edgeir")
    check_fields(index, INDEX_SCHEMA, source)
    check_fields(index["evaluation"], EVALUATION_SCHEMA, source, "evaluation")
    check_fields(index["reference"], REFERENCE_SCHEMA, source, "reference")
    seen: set[str] = set()
    for number, target in enumerate(index["targets"]):
        check_fields(target, TARGET_SCHEMA, source, f"targets[{number}]")
        if target["target"] in seen:
            raise EdgeIRError(f"expected each target once in {source}, found {target['target']} twice")
        seen.add(target["target"])


def check_paths(root: Path, index: dict[str, Any]) -> None:
    """Every path of the index (each listed file, each target's artifact and files, the
    engine cache) stays inside ``root`` after symlinks, and every file a target uses is
    listed (so it is hashed); checked before any file is read or hashed."""
    listed = set(index["files"])
    for relative in listed:
        inside(root, relative, f"the {INDEX} files entry")
    for required in (FRAMES, REFERENCE):
        if required not in listed:
            raise EdgeIRError(f"expected {required} listed in the files of {root / INDEX}, found it unlisted")
    for target in index["targets"]:
        inside(root, target["artifact"], f"the artifact of {target['target']} in {INDEX}")
        _check_listed(target["target"], target["files"], listed)
    inside(root, ENGINES, "the engine cache")


def _check_listed(target: str, files: list[str] | tuple[str, ...], listed: set[str] | tuple[str, ...]) -> None:
    unlisted = [f for f in files if f not in listed]
    if unlisted:
        raise EdgeIRError(f"expected every file of {target} in {INDEX}, found {unlisted[0]} unlisted")


def check_artifact_files(root: Path, target: BundleTarget) -> None:
    """Every file the target's runtime opens (the artifact or its package's files, the weights
    beside it, its manifest and the weights file that names) is among the target's files,
    hence inside the bundle and hashed: an unlisted one could be anything."""
    from edgeir.manifest import Manifest, manifest_path
    from edgeir.runtimes import artifact_files

    artifact = root / target.artifact
    if not artifact.exists():
        raise EdgeIRError(f"expected the artifact {target.artifact} of {target.target} in the bundle {root}, "
                          "found it missing: copy the whole bundle")
    used = [p.relative_to(root).as_posix() for p in artifact_files(artifact)]
    sidecar = manifest_path(artifact)
    used.append(sidecar.relative_to(root).as_posix())
    if sidecar.is_file():
        weights = Manifest.read(sidecar).artifact.get("weights_file")
        if weights is not None:
            used.append((PurePosixPath(target.artifact).parent / str(weights)).as_posix())
    _check_listed(target.target, used, target.files)


def open_bundle(root: str | Path, verify: bool = True) -> Bundle:
    """Read ``bundle.json``, check its schema and that every path in it stays inside the
    bundle, and (with ``verify``) check every file it lists against its sha256 and that it
    lists every file a target uses; one line naming the first entry or file that is not."""
    root = Path(root)
    index_path = root / INDEX
    if not index_path.is_file():
        raise EdgeIRError(f"expected a bundle written by edgeir pack, found no {INDEX} in {root}")
    index = read_json_object(index_path, "a bundle index")
    check_index(index, index_path)
    check_paths(root, index)
    if not verify:
        return Bundle(root, index)
    for relative, expected in index["files"].items():
        path = root / relative
        if not path.is_file():
            raise EdgeIRError(f"expected {relative} in the bundle {root}, found it missing: copy the whole bundle")
        if sha256_of(path) != expected:
            raise EdgeIRError(f"expected {relative} as packed (sha256 {expected[:12]}...), found a changed file "
                              f"in {root}: copy it again from the host, or pack again")
    bundle = Bundle(root, index)
    for target in bundle.targets:
        check_artifact_files(root, target)
    return bundle


def file_hashes(root: Path, relatives: list[str]) -> dict[str, str]:
    return {relative: sha256_of(root / relative) for relative in relatives}
