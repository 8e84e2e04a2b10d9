"""The bundle: what ``edgeir pack`` writes on the host and ``edgeir bench --bundle`` reads on
the device.

One folder::

    bundle.json              what is in it, the sha256 of every file, host, versions, settings
    frames.npz               evaluation frames (blurred) and their ground truth (sharp), uint8
    reference.npz            the torch FP32 outputs on those frames, float32
    models/                  every artifact with its manifest (for trt-*: the TRT-ready ONNX)
    engines/                 TensorRT engines built on the device (not listed: a cache)

Opening a bundle checks every listed file against its sha256, so a missing file, a changed
byte or an artifact copied from another bundle is refused with its name before anything
runs. Reading needs numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.fileio import read_json_object, sha256_of

FORMAT = "edgeir-bundle"
FORMAT_VERSION = 1
INDEX = "bundle.json"
FRAMES = "frames.npz"
REFERENCE = "reference.npz"
MODELS = "models"
ENGINES = "engines"
"""The device's engine cache: the one part of a bundle that the bench writes to."""


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

    def path(self, relative: str) -> Path:
        return self.root / relative

    def pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(blurred, sharp) H x W x 3 uint8 pairs, in the order they were packed."""
        with np.load(self.path(FRAMES)) as data:
            count = len(self.evaluation["names"])
            return [(data[f"blurred_{i:04d}"], data[f"sharp_{i:04d}"]) for i in range(count)]

    def reference(self) -> list[np.ndarray]:
        with np.load(self.path(REFERENCE)) as data:
            return [data[f"output_{i:04d}"] for i in range(len(self.evaluation["names"]))]


def open_bundle(root: str | Path, verify: bool = True) -> Bundle:
    """Read ``bundle.json`` and (with ``verify``) check every file it lists against its
    sha256; one line naming the first file that is missing or changed."""
    root = Path(root)
    index_path = root / INDEX
    if not index_path.is_file():
        raise EdgeIRError(f"expected a bundle written by edgeir pack, found no {INDEX} in {root}")
    index = read_json_object(index_path, "a bundle index")
    if index.get("format") != FORMAT:
        raise EdgeIRError(f"expected an {FORMAT} index in {index_path}, found another JSON file")
    if index.get("format_version") != FORMAT_VERSION:
        raise EdgeIRError(f"expected bundle format version {FORMAT_VERSION} in {index_path}, "
                          f"found {index.get('format_version')!r}: pack it again with this edgeir")
    for relative, expected in (index["files"].items() if verify else ()):
        path = root / relative
        if not path.is_file():
            raise EdgeIRError(f"expected {relative} in the bundle {root}, found it missing: copy the whole bundle")
        if sha256_of(path) != expected:
            raise EdgeIRError(f"expected {relative} as packed (sha256 {expected[:12]}...), found a changed file "
                              f"in {root}: copy it again from the host, or pack again")
    listed = set(index["files"])
    for target in index["targets"]:
        unlisted = [f for f in target["files"] if f not in listed]
        if unlisted:
            raise EdgeIRError(f"expected every file of {target['target']} in {INDEX}, found {unlisted[0]} unlisted")
    return Bundle(root, index)


def file_hashes(root: Path, relatives: list[str]) -> dict[str, str]:
    return {relative: sha256_of(root / relative) for relative in relatives}
