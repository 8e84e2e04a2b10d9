"""Triton Inference Server model repositories from edgeir artifacts (``edgeir triton-repo``).

Each artifact becomes ``REPO/<name>/config.pbtxt`` and ``REPO/<name>/1/<model file>``:
``model.onnx`` (ONNX Runtime backend), ``model.plan`` (TensorRT backend) or
``model.xml`` + ``model.bin`` (OpenVINO backend). The config is built as a message of
Triton's own schema (``tritonclient.grpc.model_config_pb2``) and written with protobuf's
text format, so it always parses the way Triton parses it; names, types and dims are read
from the artifact itself, and the manifest's facts (layout, value range, size rule,
measured PSNR, precision, weights) ride along as ``edgeir.*`` string parameters, which
Triton's backends ignore (they read only the keys they know).

TensorRT engines are tied to one GPU model: several engines of one model, built on GPUs of
different compute capabilities, go into one model folder as ``1/model_<cc>.plan`` with
``cc_model_filenames``, and Triton picks the file of the GPU it runs on.

``--overwrite`` replaces only what edgeir wrote: ``config.pbtxt`` while it is unchanged
(its first line records its SHA-256) and version ``1/``; other versions and files stay
(``folders``).

Verified here: every config parses with Triton's schema and matches the artifact; Triton
itself is not run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from edgeir.distributed.triton.config import BACKENDS, KINDS, build_config, config_text, load_schema
from edgeir.distributed.triton.folders import (
    VERSION,
    check_model_folder,
    note_other_versions,
    write_model_folder,
)
from edgeir.distributed.triton.gpus import (
    KNOWN_COMPUTE_CAPABILITIES,
    check_given_capabilities,
    check_given_gpus,
    compute_capability_of,
)
from edgeir.distributed.triton.models import (
    Artifact,
    Model,
    check_name,
    plan_models,
    read_artifact,
    sanitise_name,
)
from edgeir.distributed.triton.tensors import Tensor
from edgeir.errors import EdgeIRError

__all__ = [
    "KNOWN_COMPUTE_CAPABILITIES", "Artifact", "Model", "Tensor", "build_config", "check_name",
    "compute_capability_of", "config_text", "load_schema", "plan_models", "read_artifact", "sanitise_name",
    "write_triton_repo",
]

log = logging.getLogger("edgeir")


def write_triton_repo(artifacts: Sequence[str | Path], out: str | Path, name: str | None = None, *,
                      instances: int = 1, kind: str | None = None, max_batch: int | None = None,
                      max_queue_delay_us: int | None = None,
                      compute_capabilities: Mapping[str, str] | None = None,
                      overwrite: bool = False) -> list[Path]:
    """Write one Triton model folder per model into the repository ``out`` and return them.

    Everything is read and checked before anything is written (artifacts, manifests, names,
    options, existing folders), and each model folder is written under a temporary name and
    renamed into place, so a failure or Ctrl-C never leaves a half-written model for Triton
    to load. ``overwrite`` replaces a folder's ``config.pbtxt`` (only while it is as edgeir
    wrote it) and version ``1/``, never other versions or files. ``name`` names the one
    model (one artifact, or engines of one model for several GPUs); ``kind`` is ``cpu``, ``gpu`` or ``auto`` (default: the backend's own);
    ``compute_capabilities`` maps GPU names (as engine manifests record them) to ``X.Y``.
    """
    if not artifacts:
        raise EdgeIRError("expected at least one artifact, found none")
    if kind is not None and kind not in KINDS:
        raise EdgeIRError(f"expected --kind {', '.join(KINDS)}, found {kind!r}")
    if max_batch is not None and max_batch < 1:
        raise EdgeIRError(f"expected --max-batch of at least 1, found {max_batch}")
    check_given_capabilities(compute_capabilities or {})
    schema = load_schema()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise EdgeIRError(f"expected a model repository folder at {out}, found a file")
    read = [read_artifact(path) for path in artifacts]
    check_given_gpus(compute_capabilities or {}, read)
    models = plan_models(read, name, compute_capabilities)
    configs = [(model, config_text(model, build_config(model, instances, kind, max_batch, max_queue_delay_us,
                                                        schema))) for model in models]
    for model, _ in configs:
        check_model_folder(out / model.name, overwrite)
    written = []
    for model, text in configs:
        folder = out / model.name
        write_model_folder(folder, model.files(), text)
        first = model.first
        if first.runtime == "openvino" and first.manifest.runtime_options.get("INFERENCE_PRECISION_HINT") == "f32":
            log.warning("%s: the export pins OpenVINO's f32 precision; Triton's OpenVINO backend has no parameter "
                        "for it and computes in bf16 on CPUs that have it", model.name)
        log.info("wrote %s (%s backend: %s)", folder, BACKENDS[first.runtime][0],
                 ", ".join(f"{VERSION}/{n}" for n in sorted(model.files())))
        note_other_versions(folder)
        written.append(folder)
    return written
