"""OpenVINO backend: IR files (.xml + .bin), with the manifest's runtime options applied.

The options matter: an ``openvino`` artifact pins ``INFERENCE_PRECISION_HINT=f32``
because the CPU plugin otherwise computes in bf16 where the CPU has it. The precision
reported is the one the compiled model says it uses, not the one the file stores.

An IR with dynamic sizes is also compiled once per input shape it meets, reshaped to that
shape: the CPU plugin fuses element-wise chains and plans memory only for static shapes
(docs/benchmarks.md, issue 23), and a camera loop or a tiled frame meets one or two shapes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
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
SHAPES_KEPT = 4
"""Compiled shapes kept per runtime, the least recently used dropped first: a stream meets
one shape, a tiled frame its tile batch and the remainder."""


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


class _Compiled:
    """A compiled model and one infer request per thread that uses it (``compiled(...)``
    would share one request between threads), so a Restorer can be shared as its docstring
    says."""

    def __init__(self, compiled: Any) -> None:
        self.compiled = compiled
        self._requests = threading.local()

    def request(self) -> Any:
        request = getattr(self._requests, "request", None)
        if request is None:
            request = self._requests.request = self.compiled.create_infer_request()
        return request


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
        self._as_read = _Compiled(self.compiled)
        self._model, self._compile = model, lambda m: core.compile_model(m, target, options)
        self._by_shape: OrderedDict[tuple[int, ...], _Compiled] = OrderedDict()
        self._lock = threading.Lock()
        self.specialize = not dims.is_static
        used = precision_name(self.compiled)
        stored = manifest.precision if manifest else "fp32"
        precision = PRECISION_NAMES.get(used, used)
        if stored == "int8":
            precision = f"int8 ({precision} elsewhere)"
        elif stored != precision:
            notes.append(f"{stored} weights computed in {precision} (the {target} plugin's choice)")
        settings = [f"{target} {k}={v}" for k, v in options.items()]
        if self.specialize:
            settings.append(f"{target} compiled per input shape")
        self.info = RuntimeInfo.of_artifact("openvino", manifest, task, target, settings, notes, precision)

    def compiled_for(self, shape: tuple[int, ...]) -> Any:
        """The compiled model that runs inputs of ``shape``: the IR reshaped to it and
        compiled on first use; the IR as read when it is static or the reshaped IR does not
        compile (the dynamic model then reports the input it refuses)."""
        self.check_open()
        return self._entry_for(shape).compiled

    def _entry_for(self, shape: tuple[int, ...]) -> _Compiled:
        if not self.specialize:
            return self._as_read
        with self._lock:
            entry = self._by_shape.get(shape)
            if entry is None:
                model = self._model.clone()
                try:
                    model.reshape(list(shape))
                    entry = _Compiled(self._compile(model))
                except Exception:  # a shape the network cannot take: the dynamic model says why
                    entry = self._as_read
                self._by_shape[shape] = entry
                while len(self._by_shape) > SHAPES_KEPT:
                    self._by_shape.popitem(last=False)
            self._by_shape.move_to_end(shape)
        return entry

    def _run(self, x: np.ndarray) -> np.ndarray:
        request = self._entry_for(tuple(x.shape)).request()
        try:
            return next(iter(request.infer(x, share_outputs=False).values()))
        except Exception as exc:  # OpenVINO raises RuntimeError with C++ source locations
            accepts = self.info.shapes.describe() if self.info.shapes else f"input {self.graph_dims}"
            raise refused_input("openvino", self.path.name, x, accepts, _without_location(exc)) from None

    def _release(self) -> None:
        self.compiled = self._as_read = self._model = None
        self._by_shape.clear()
