"""Artifacts read and checked, and grouped into the model folders Triton will load: one
artifact per model name, or TensorRT engines of one model for GPUs of different compute
capabilities."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from edgeir.distributed.triton.gpus import resolve_capabilities
from edgeir.distributed.triton.tensors import Tensor, engine_tensors, onnx_tensors, openvino_tensors
from edgeir.errors import EdgeIRError
from edgeir.fileio import inside
from edgeir.manifest import Manifest, manifest_path

SUFFIXES = {"onnxruntime": ".onnx", "tensorrt": ".engine", "openvino": ".xml"}
"""The runtimes Triton serves (its backends, in ``config.BACKENDS``) and their artifact's suffix."""

NAME_MAX = 128
"""Longest model name: the folder's name, plus the temporary name it is written under
(``.NAME.PID-RANDOM.partial``), stays well inside a file system's 255 bytes."""
_NAME_CHARACTER = re.compile(r"[A-Za-z0-9_.-]")


@dataclass
class Artifact:
    """One edgeir artifact, read and checked: where its tensors came from is said in
    ``tensors_from`` (the graph itself, or the manifest for an engine without its graph)."""

    path: Path
    manifest: Manifest
    runtime: str
    inputs: list[Tensor]
    outputs: list[Tensor]
    files: dict[str, Path]
    """Source file for each file name Triton expects in the version folder."""
    tensors_from: str
    gpu: str | None = None
    compute_capability: str | None = None

    @property
    def batch_dynamic(self) -> bool:
        """Whether the first dimension of every tensor is free: Triton's batcher needs that
        (its backends refuse ``max_batch_size > 0`` otherwise)."""
        return all(t.dims and t.dims[0] == -1 for t in self.inputs + self.outputs)


@dataclass
class Model:
    """One model folder to write: one artifact, or several TensorRT engines for GPUs of
    different compute capabilities."""

    name: str
    artifacts: list[Artifact] = field(default_factory=list)

    @property
    def first(self) -> Artifact:
        return self.artifacts[0]

    def files(self) -> dict[str, Path]:
        """Source file for each file of the version folder: engines for several GPUs go in
        as ``model_<cc>.plan``, the names ``cc_model_filenames`` lists."""
        if len(self.artifacts) == 1:
            return dict(self.first.files)
        return {f"model_{a.compute_capability}.plan": a.path for a in self.artifacts}


def sanitise_name(stem: str) -> str:
    """A Triton model name from a file stem: letters, digits, ``_`` and ``-`` only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "model"


def _abridged(name: str) -> str:
    """A name as a message shows it: whole up to 40 characters, else its start."""
    return repr(name) if len(name) <= 40 else f"{name[:32]!r}..."


def check_name(name: str, given: str = "--name") -> str:
    """A name given by the user is used as given or refused, never rewritten; the refusal
    says which rule it breaks (length, a character, the first character, ``..``)."""
    if not name:
        raise EdgeIRError(f"expected a model name in {given}, found an empty one")
    if len(name) > NAME_MAX:
        raise EdgeIRError(f"expected a model name of at most {NAME_MAX} characters in {given}, found "
                          f"{len(name)} ({_abridged(name)})")
    bad = next((c for c in name if not _NAME_CHARACTER.fullmatch(c)), None)
    if bad is not None:
        raise EdgeIRError(f"expected a model name of letters, digits, '_', '-' and '.' in {given}, found "
                          f"{bad!r} in {_abridged(name)}")
    if not name[0].isalnum():
        raise EdgeIRError(f"expected a model name starting with a letter or digit in {given}, found "
                          f"{_abridged(name)}")
    if ".." in name:
        raise EdgeIRError(f"expected a model name without '..' in {given}, found {_abridged(name)}")
    return name


def read_artifact(path: str | Path) -> Artifact:
    """An artifact and its manifest, checked against each other, with the tensors Triton
    will see; anything Triton's ONNX Runtime, TensorRT or OpenVINO backends do not serve
    (Core ML packages, checkpoints) is refused in one line."""
    from edgeir.runtimes import check_manifest_matches

    path = Path(path)
    if not path.exists():
        raise EdgeIRError(f"expected an edgeir artifact at {path}, found nothing")
    sidecar = manifest_path(path)
    if not sidecar.is_file():
        raise EdgeIRError(f"expected the manifest {sidecar.name} beside {path.name} (edgeir export writes "
                          "it; the Triton config is built from its facts), found none")
    manifest = Manifest.read(sidecar)
    runtime = manifest.runtime
    if runtime not in SUFFIXES:
        raise EdgeIRError(f"expected an artifact of onnxruntime (.onnx), tensorrt (.engine) or openvino "
                          f"(.xml) for Triton, found a {runtime} artifact ({manifest.target}) at {path.name}")
    if path.suffix.lower() != SUFFIXES[runtime] or not path.is_file():
        raise EdgeIRError(f"expected a {SUFFIXES[runtime]} file for a {runtime} manifest, found {path.name}")
    check_manifest_matches(manifest, path, sidecar)
    _ = manifest.input_shapes  # checks the shapes record: a hand-edited one is refused here, not in Triton
    gpu = None
    if runtime == "onnxruntime":
        inputs, outputs = onnx_tensors(path)
        files, origin = {"model.onnx": path}, "the graph"
    elif runtime == "openvino":
        inputs, outputs = openvino_tensors(path)
        weights = inside(path.parent, manifest.artifact.get("weights_file") or path.stem + ".bin",
                         f"the weights_file of {sidecar.name}")
        if not weights.is_file():
            raise EdgeIRError(f"expected the weights {weights.name} beside {path.name}, found none")
        files, origin = {"model.xml": path, "model.bin": weights}, "the IR's XML"
    else:
        inputs, outputs, origin = engine_tensors(path, manifest)
        files = {"model.plan": path}  # edgeir writes the bare serialized engine: the plan Triton loads
        gpu = (manifest.details.get("engine") or {}).get("gpu")
    if len(inputs) != 1:
        raise EdgeIRError(f"expected one image input in {path.name}, found {len(inputs)}: "
                          + ", ".join(t.name for t in inputs))
    return Artifact(path, manifest, runtime, inputs, outputs, files, origin, gpu=gpu,
                    compute_capability=(manifest.details.get("engine") or {}).get("compute_capability"))


def _same_model(model: Model) -> None:
    """Engines that share a model folder share one config: same tensors, shapes, weights."""
    first = model.first
    for other in model.artifacts[1:]:
        for label, a, b in (("inputs", first.inputs, other.inputs), ("outputs", first.outputs, other.outputs),
                            ("shapes", first.manifest.shapes, other.manifest.shapes),
                            ("precision", first.manifest.precision, other.manifest.precision),
                            ("variant", first.manifest.variant, other.manifest.variant),
                            ("task", first.manifest.task, other.manifest.task),
                            ("weights", first.manifest.weights.get("sha256"), other.manifest.weights.get("sha256"))):
            if a != b:
                raise EdgeIRError(f"expected the engines of model {model.name!r} to differ only in their GPU, "
                                  f"found other {label} in {other.path.name} than in {first.path.name}: "
                                  "give them different --name runs")


def plan_models(artifacts: Sequence[Artifact], name: str | None = None,
                compute_capabilities: Mapping[str, str] | None = None) -> list[Model]:
    """Artifacts grouped into model folders by name (``name`` for all, else each file's
    sanitised stem). One name holds one artifact, or TensorRT engines for GPUs of different
    compute capabilities; anything else sharing a name is refused."""
    models: dict[str, Model] = {}
    for artifact in artifacts:
        if name is not None:
            key = check_name(name)
        else:  # a long file name: the same limit, and the way out
            key = check_name(sanitise_name(artifact.path.name.removesuffix(SUFFIXES[artifact.runtime])),
                             f"the name taken from the file {_abridged(artifact.path.name)} (pass --name)")
        models.setdefault(key, Model(key)).artifacts.append(artifact)
    for model in models.values():
        if len(model.artifacts) == 1:
            continue
        paths = [a.path.resolve() for a in model.artifacts]
        if len(set(paths)) != len(paths):
            raise EdgeIRError(f"expected each artifact once, found {model.first.path} given twice")
        others = [a for a in model.artifacts if a.runtime != "tensorrt"]
        if others:
            names = ", ".join(str(a.path) for a in model.artifacts)
            hint = "" if name is None else "; --name names one model"
            raise EdgeIRError(f"expected one artifact per model name, found {len(model.artifacts)} named "
                              f"{model.name!r} ({names}): only TensorRT engines for different GPUs share a "
                              f"model; rename the files or write them in separate runs with --name{hint}")
        _same_model(model)
        resolve_capabilities(model, compute_capabilities or {})
    return list(models.values())
