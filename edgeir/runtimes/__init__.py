"""Load any edgeir artifact (or a model) into one ``Runtime`` protocol.

``load(path)`` picks the backend from the manifest beside the file, else from its
suffix. Backends import their runtime lazily, so a camera box needs only the runtime it
uses; nothing here imports ``edgeir.export``, and torch only for the torch backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeir.errors import EdgeIRError
from edgeir.manifest import Manifest, manifest_path
from edgeir.runtimes.base import Runtime, RuntimeInfo

__all__ = ["Runtime", "RuntimeInfo", "load", "why_unavailable"]

CHECKPOINT_SUFFIXES = (".pkl", ".pth", ".pt")
MODEL_NAMES = {"convir-s": "s", "convir-b": "b", "convir-l": "l"}
"""Names ``load`` accepts instead of a file: that variant in PyTorch, default weights."""


@dataclass(frozen=True)
class Backend:
    """A runtime edgeir runs artifacts in: which files it opens, the class that runs them,
    what it needs. Adding a runtime is a row here and a backend module."""

    name: str
    suffixes: tuple[str, ...]
    runner: str
    """``module:Class`` (or ``module:Class.constructor``) called as (path, manifest, device, task=)."""
    package: tuple[str, str] | None = None
    """(module, edgeir extra) the backend imports; looked up, not imported."""
    check: str | None = None
    """``module:function`` saying what else is missing (a GPU, an OS), or None."""
    weights_suffix: str | None = None
    """The file beside the artifact that holds its weights (OpenVINO's and ncnn's ``.bin``)."""
    threads: bool = False
    """Whether the runner takes ``threads=`` (a per-session CPU thread count): what lets
    several workers share one machine's cores without oversubscribing them."""

    def why_unavailable(self) -> str | None:
        import importlib.util

        if self.package is not None and importlib.util.find_spec(self.package[0]) is None:
            return f'{self.package[0]} is not installed: pip install "edgeir[{self.package[1]}]"'
        return _resolve(self.check)() if self.check else None

    def open(self, path: Path, manifest: Manifest | None, device: str | None, task: str | None,
             threads: int | None = None) -> Runtime:
        if threads is None:
            return _resolve(self.runner)(path, manifest, device, task=task)
        if not self.threads:
            takes = ", ".join(b.name for b in BACKENDS.values() if b.threads)
            raise EdgeIRError(f"expected a runtime that takes a thread count ({takes}), found {self.name} "
                              f"for {path.name}: leave threads unset")
        if not (isinstance(threads, int) and threads >= 1):
            raise EdgeIRError(f"expected threads of at least 1, found {threads!r}")
        return _resolve(self.runner)(path, manifest, device, task=task, threads=threads)


BACKENDS: dict[str, Backend] = {
    b.name: b
    for b in (
        Backend("onnxruntime", (".onnx",), "edgeir.runtimes.onnxruntime_backend:OnnxRuntime", ("onnxruntime", "ort"),
                threads=True),
        Backend("openvino", (".xml",), "edgeir.runtimes.openvino_backend:OpenVinoRuntime", ("openvino", "ov"),
                weights_suffix=".bin", threads=True),
        Backend("tensorrt", (".engine",), "edgeir.runtimes.tensorrt_backend:TensorRTRuntime",
                check="edgeir.runtimes.tensorrt_backend:why_unavailable"),
        Backend("coreml", (".mlpackage",), "edgeir.runtimes.coreml_backend:CoreMLRuntime",
                check="edgeir.runtimes.coreml_backend:why_unavailable"),
        Backend("executorch", (".pte",), "edgeir.runtimes.executorch_backend:ExecuTorchRuntime",
                ("executorch", "executorch")),
        Backend("ncnn", (".param",), "edgeir.runtimes.ncnn_backend:NcnnRuntime", ("ncnn", "ncnn-runtime"),
                weights_suffix=".bin", threads=True),
        Backend("torch", CHECKPOINT_SUFFIXES, "edgeir.runtimes.torch_backend:TorchRuntime.from_artifact",
                ("torch", "host")),
    )
}
SUFFIX_RUNTIMES = {suffix: b.name for b in BACKENDS.values() for suffix in b.suffixes}


def artifact_files(artifact: Path) -> list[Path]:
    """The files an artifact is made of: itself (a package's folder contents) and the
    weights its runtime keeps beside it; not its manifest."""
    files = [p for p in artifact.rglob("*") if p.is_file()] if artifact.is_dir() else [artifact]
    backend = BACKENDS.get(SUFFIX_RUNTIMES.get(artifact.suffix, ""))
    if backend is not None and backend.weights_suffix:
        files.append(artifact.with_suffix(backend.weights_suffix))
    return files


def _resolve(reference: str) -> Any:
    from importlib import import_module

    module, _, attribute = reference.partition(":")
    found: Any = import_module(module)
    for name in attribute.split("."):
        found = getattr(found, name)
    return found


def get_backend(runtime: str, where: Path | None = None) -> Backend:
    if runtime not in BACKENDS:
        place = f" in the manifest of {where}" if where is not None else ""
        raise EdgeIRError(f"expected a runtime edgeir knows ({', '.join(BACKENDS)}), found {runtime!r}{place}")
    return BACKENDS[runtime]


def why_unavailable(runtime: str) -> str | None:
    """Why this machine cannot run ``runtime``'s artifacts (a package, a GPU or an OS it
    lacks), in one phrase; None where it can. Cheap (packages are looked up, not
    imported), so a benchmark can skip a target before spending minutes exporting it."""
    return get_backend(runtime).why_unavailable()


def _open_named(name: str, device: str | None, task: str | None) -> Runtime:
    """``convir-s`` etc.: PyTorch with the default weights (the demo weights where they
    exist, random initialisation elsewhere; ``info.weights`` says which)."""
    from edgeir.models.registry import DEFAULT_TASK
    from edgeir.models.weights import choose_weights
    from edgeir.runtimes.torch_backend import TorchRuntime

    variant, task = MODEL_NAMES[name], task or DEFAULT_TASK
    return TorchRuntime(choose_weights(variant, task), device, task=task, variant=variant)


def check_manifest_matches(manifest: Manifest, artifact: Path, sidecar: Path) -> None:
    """A manifest describes one file; beside another (a re-export that did not finish,
    a copied file) it would give wrong sizes and precision, so refuse it. Every file of
    the artifact is checked: OpenVINO's ``.bin`` as well as its ``.xml``, since a damaged
    ``.bin`` of the right size loads and restores black frames."""
    from edgeir.fileio import inside, sha256_of

    expected = manifest.artifact.get("sha256")
    if expected and sha256_of(artifact) != expected:
        raise EdgeIRError(
            f"expected {sidecar.name} to describe {artifact.name}, found a manifest of another file "
            "(sha256 differs): re-export, or delete the stale manifest"
        )
    companion, digest = manifest.artifact.get("weights_file"), manifest.artifact.get("weights_sha256")
    if companion and digest:
        weights = inside(artifact.parent, companion, f"the weights_file of {sidecar.name}")
        if not weights.is_file():
            raise EdgeIRError(f"expected the weights {weights.name} beside {artifact.name}, found none")
        if sha256_of(weights) != digest:
            raise EdgeIRError(
                f"expected the weights {weights.name} that {sidecar.name} records, found a different "
                "file (sha256 differs: damaged, or from another export): re-export"
            )


def load(path_or_model: Any, device: str | None = None, **options: Any) -> Runtime:
    """A ready ``Runtime`` for an artifact path, a checkpoint, a ConvIR module, or a name
    in ``MODEL_NAMES`` (``"convir-s"``: PyTorch with the demo weights).

    ``device`` is ``None`` for the best available, or ``"cpu"`` / ``"cuda[:N]"``; ``task``
    is needed for a checkpoint, whose file cannot say it, and checked against artifacts
    that record theirs; ``threads`` caps the CPU threads of runtimes that take it (ONNX
    Runtime, OpenVINO), for several workers on one machine."""
    if not isinstance(path_or_model, (str, Path)):
        from edgeir.runtimes.torch_backend import TorchRuntime

        return TorchRuntime(path_or_model, device, task=options.get("task"))
    path = Path(path_or_model)
    if not path.exists() and str(path_or_model) in MODEL_NAMES:
        return _open_named(str(path_or_model), device, options.get("task"))
    if not path.exists():
        names = ", ".join(MODEL_NAMES)
        raise EdgeIRError(f"expected a model file or one of {names}, found nothing at {path}")
    sidecar = manifest_path(path)
    manifest = Manifest.read(sidecar) if sidecar.is_file() else None
    if manifest is not None:
        check_manifest_matches(manifest, path, sidecar)
    runtime = manifest.runtime if manifest else SUFFIX_RUNTIMES.get(path.suffix.lower())
    if runtime is None:
        known = ", ".join(sorted(SUFFIX_RUNTIMES))
        raise EdgeIRError(f"expected a model file ({known}) or one with a manifest, found {path.name}")
    return get_backend(runtime, path).open(path, manifest, device, options.get("task"), options.get("threads"))
