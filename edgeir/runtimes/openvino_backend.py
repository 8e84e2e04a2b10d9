"""OpenVINO backend: IR files (.xml + .bin), with the manifest's runtime options applied.

The options matter: an ``openvino`` artifact pins ``INFERENCE_PRECISION_HINT=f32``
because the CPU plugin otherwise computes in bf16 where the CPU has it. The precision
reported is the one the compiled model says it uses, not the one the file stores.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.manifest import Manifest
from edgeir.runtimes.base import (
    Runtime,
    RuntimeInfo,
    artifact_task,
    check_sidecar_matches_embedded,
    import_runtime,
    refused_input,
)

PRECISION_NAMES = {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}


def precision_name(compiled: Any) -> str:
    """The compiled model's inference precision as OpenVINO spells it (f32, bf16, f16)."""
    hint = compiled.get_property("INFERENCE_PRECISION_HINT")
    return hint.to_string() if hasattr(hint, "to_string") else str(hint)


def _device(device: str | None, available: list[str]) -> str:
    """``cuda:1`` and ``gpu:1`` name OpenVINO's ``GPU.1``."""
    if device is None:
        return "CPU"
    wanted = device.upper().replace("CUDA", "GPU").replace(":", ".")
    if wanted not in available:
        raise EdgeIRError(f"expected an OpenVINO device ({', '.join(available)}), found {device!r}")
    return wanted


def _manifest_from_rt_info(model: Any) -> Manifest | None:
    if not model.has_rt_info(["edgeir"]):
        return None
    section = model.get_rt_info(["edgeir"])
    # Values are OVAny wrappers: str() of one is "<OVAny class>", astype(str) is the text.
    return Manifest.from_metadata({f"edgeir.{k}": v.astype(str) if hasattr(v, "astype") else str(v)
                                   for k, v in section.astype(dict).items()})


def _without_location(exc: Exception) -> Exception:
    """OpenVINO's messages start with ``Exception from src/...cpp:84:``; the user needs the
    line after it."""
    lines = [line for line in str(exc).strip().splitlines()
             if line.strip() and not line.startswith(("Exception from src", "Check "))]
    return RuntimeError(lines[0] if lines else str(exc))


class OpenVinoRuntime(Runtime):
    def __init__(
        self, path: str | Path, manifest: Manifest | None, device: str | None = None,
        task: str | None = None, threads: int | None = None,
    ) -> None:
        ov = import_runtime("openvino", "running OpenVINO IR", "openvino")
        path = Path(path)
        if not path.with_suffix(".bin").is_file():
            raise EdgeIRError(f"expected the weights {path.with_suffix('.bin').name} beside {path.name}, found none")
        core = ov.Core()
        try:
            model = core.read_model(str(path))
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own
            first = str(_without_location(exc))
            raise EdgeIRError(f"expected an OpenVINO IR that OpenVINO can read at {path}: {first}") from None
        embedded = _manifest_from_rt_info(model)
        check_sidecar_matches_embedded(manifest, embedded, path.name)
        manifest = manifest or embedded
        self.path = path
        dims = model.inputs[0].get_partial_shape()
        self.graph_dims = str(dims)
        if dims.rank.is_static and (dims.rank.get_length() != 4 or (dims[1].is_static and dims[1].get_length() != 3)):
            raise EdgeIRError(f"expected a model whose input is N x 3 x H x W, found {dims} in {path.name}")
        notes: list[str] = []
        task = artifact_task(manifest, task, path, notes)
        options = dict(manifest.runtime_options) if manifest else {}
        if threads is not None:
            options["INFERENCE_NUM_THREADS"] = threads
        target = _device(device, core.available_devices)
        try:
            self.compiled = core.compile_model(model, target, options)
        except Exception as exc:  # a plugin that fails, or options this OpenVINO does not know
            first = str(_without_location(exc))
            raise EdgeIRError(
                f"expected OpenVINO to compile {path.name} for {target} with {options or 'no options'}: {first}"
            ) from None
        self._requests = threading.local()
        used = precision_name(self.compiled)
        stored = manifest.precision if manifest else "fp32"
        precision = PRECISION_NAMES.get(used, used)
        if stored == "int8":
            precision = f"int8 ({precision} elsewhere)"
        elif stored != precision:
            notes.append(f"{stored} weights computed in {precision} (the {target} plugin's choice)")
        self.info = RuntimeInfo.of_artifact(
            "openvino", manifest, task, target, [f"{target} {k}={v}" for k, v in options.items()],
            notes, precision)

    def _run(self, x: np.ndarray) -> np.ndarray:
        # One infer request per thread (compiled(...) would share one between threads), so a
        # Restorer can be shared as its docstring says; outputs are copies (share_outputs=False).
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self.compiled.create_infer_request()
        try:
            return next(iter(request.infer(x, share_outputs=False).values()))
        except Exception as exc:  # OpenVINO raises RuntimeError with C++ source locations
            accepts = self.info.shapes.describe() if self.info.shapes else f"input {self.graph_dims}"
            raise refused_input("openvino", self.path.name, x, accepts, _without_location(exc)) from None

    def close(self) -> None:
        self.compiled = None
        self._requests = threading.local()
