"""Load any edgeir artifact (or a model) into one ``Runtime`` protocol.

``load(path)`` picks the backend from the manifest beside the file, else from its
suffix. Backends import their runtime lazily, so a camera box needs only the runtime it
uses; nothing here imports ``edgeir.export``, and torch only for the torch backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeir.errors import EdgeIRError
from edgeir.manifest import Manifest, manifest_path
from edgeir.runtimes.base import Runtime, RuntimeInfo

__all__ = ["Runtime", "RuntimeInfo", "load", "why_unavailable"]

CHECKPOINT_SUFFIXES = (".pkl", ".pth", ".pt")
SUFFIX_RUNTIMES = {".onnx": "onnxruntime", ".xml": "openvino", ".engine": "tensorrt",
                   ".mlpackage": "coreml",
                   **{s: "torch" for s in CHECKPOINT_SUFFIXES}}
MODEL_NAMES = {"convir-s": "s", "convir-b": "b", "convir-l": "l"}
"""Names ``load`` accepts instead of a file: that variant in PyTorch, default weights."""


def _open(runtime: str, path: Path, manifest: Manifest | None, device: str | None, **kw: Any) -> Runtime:
    if runtime == "onnxruntime":
        from edgeir.runtimes.onnxruntime_backend import OnnxRuntime

        return OnnxRuntime(path, manifest, device, task=kw.get("task"))
    if runtime == "openvino":
        from edgeir.runtimes.openvino_backend import OpenVinoRuntime

        return OpenVinoRuntime(path, manifest, device, task=kw.get("task"))
    if runtime == "tensorrt":
        from edgeir.runtimes.tensorrt_backend import TensorRTRuntime

        return TensorRTRuntime(path, manifest, device, task=kw.get("task"))
    if runtime == "coreml":
        from edgeir.runtimes.coreml_backend import CoreMLRuntime

        return CoreMLRuntime(path, manifest, device, task=kw.get("task"))
    if runtime == "torch":
        from edgeir.runtimes.torch_backend import TorchRuntime

        return TorchRuntime(path, device, task=kw.get("task"))
    raise EdgeIRError(f"expected a runtime edgeir knows, found {runtime!r} in the manifest of {path}")


RUNTIME_PACKAGES = {"onnxruntime": ("onnxruntime", "onnx"), "openvino": ("openvino", "openvino")}
"""Runtimes that need only their Python package: (module, edgeir extra)."""


def why_unavailable(runtime: str) -> str | None:
    """Why this machine cannot run ``runtime``'s artifacts (a package, a GPU or an OS it
    lacks), in one phrase; None where it can. Cheap (packages are looked up, not
    imported), so a benchmark can skip a target before spending minutes exporting it."""
    import importlib.util

    if runtime == "tensorrt":
        from edgeir.runtimes.tensorrt_backend import why_unavailable as tensorrt_missing

        return tensorrt_missing()
    if runtime == "coreml":
        from edgeir.runtimes.coreml_backend import why_unavailable as coreml_missing

        return coreml_missing()
    if runtime in RUNTIME_PACKAGES:
        module, extra = RUNTIME_PACKAGES[runtime]
        if importlib.util.find_spec(module) is None:
            return f'{module} is not installed: pip install "edgeir[{extra}]"'
        return None
    if runtime == "torch":
        return None
    raise EdgeIRError(f"expected a runtime edgeir knows, found {runtime!r}")


def _open_named(name: str, device: str | None, task: str | None) -> Runtime:
    """``convir-s`` etc.: PyTorch with the default weights (the demo weights where they
    exist, random initialisation elsewhere; ``info.weights`` says which)."""
    from edgeir.models.registry import DEFAULT_TASK
    from edgeir.models.weights import choose_weights
    from edgeir.runtimes.torch_backend import TorchRuntime

    variant, task = MODEL_NAMES[name], task or DEFAULT_TASK
    return TorchRuntime(choose_weights(variant, task), device, task=task, variant=variant)


def _check_manifest_matches(manifest: Manifest, artifact: Path, sidecar: Path) -> None:
    """A manifest describes one file; beside another (a re-export that did not finish,
    a copied file) it would give wrong sizes and precision, so refuse it. Every file of
    the artifact is checked: OpenVINO's ``.bin`` as well as its ``.xml``, since a damaged
    ``.bin`` of the right size loads and restores black frames."""
    from edgeir.fileio import sha256_of

    expected = manifest.artifact.get("sha256")
    if expected and sha256_of(artifact) != expected:
        raise EdgeIRError(
            f"expected {sidecar.name} to describe {artifact.name}, found a manifest of another file "
            "(sha256 differs): re-export, or delete the stale manifest"
        )
    companion, digest = manifest.artifact.get("weights_file"), manifest.artifact.get("weights_sha256")
    if companion and digest:
        weights = artifact.with_name(str(companion))
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
    that record theirs."""
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
        _check_manifest_matches(manifest, path, sidecar)
    runtime = manifest.runtime if manifest else SUFFIX_RUNTIMES.get(path.suffix.lower())
    if runtime is None:
        known = ", ".join(sorted(SUFFIX_RUNTIMES))
        raise EdgeIRError(f"expected a model file ({known}) or one with a manifest, found {path.name}")
    return _open(runtime, path, manifest, device, **options)
