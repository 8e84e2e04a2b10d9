"""The one protocol every runtime backend implements.

A backend takes NCHW float32 RGB in [0, 1] at a legal size and returns the restored
tensor of the same shape. Frame handling (dtypes, padding, tiling) lives above, in
``Restorer``, so that each backend is only a loader and a runner.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.manifest import Manifest
from edgeir.models.size import check_size
from edgeir.shapes import InputShapes


@dataclass
class RuntimeInfo:
    backend: str
    precision: str
    """The precision the runtime really computes in, not only what the file stores."""
    device: str
    dilations: tuple[int, ...]
    """Of the task the model was built for: they set the size rule."""
    shapes: InputShapes | None = None
    """The range the artifact was exported for; None when any legal size works."""
    providers: list[str] = field(default_factory=list)
    manifest: Manifest | None = None
    notes: list[str] = field(default_factory=list)
    weights: str | None = None
    """What the weights are (demo, random initialisation, a checkpoint), where known."""

    @classmethod
    def of_artifact(cls, backend: str, manifest: Manifest | None, task: str, device: str,
                    providers: list[str], notes: list[str], precision: str | None = None) -> RuntimeInfo:
        """What a runtime that opened an exported file reports: shapes and weights from its
        manifest, and its precision unless the runtime knows better."""
        from edgeir.models.registry import get_task

        if precision is None:
            precision = manifest.precision if manifest else "unknown (no manifest)"
        return cls(
            backend=backend, precision=precision, device=device,
            dilations=get_task(task).dilations,
            shapes=manifest.input_shapes if manifest else None,
            providers=providers, manifest=manifest, notes=notes,
            weights=manifest.weights.get("description") if manifest else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "precision": self.precision,
            "device": self.device,
            "providers": self.providers,
            "shapes": self.shapes.to_dict() if self.shapes else None,
            "notes": self.notes,
            "weights": self.weights,
        }


def time_on_stream(new_event: Callable[[], Any], stream: Any, work: Callable[[], object]) -> float:
    """Milliseconds the GPU spent on what ``work`` queues on ``stream``, from CUDA events
    (host time, copies and Python overhead excluded). ``new_event()`` makes a timing event
    with ``record(stream)``, ``synchronize()`` and ``elapsed_time(end)`` (torch's, or
    ``edgeir.runtimes.cuda.Event``), so that this module imports neither."""
    start, end = new_event(), new_event()
    start.record(stream)
    work()
    end.record(stream)
    end.synchronize()
    return float(start.elapsed_time(end))


def import_runtime(module: str, purpose: str, extra: str, install: str | None = None) -> Any:
    """Import a runtime only when a backend opens an artifact, so a missing extra fails
    that backend alone, with the install command (``install`` where pip's extra cannot
    provide it)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        how = install or f'pip install "edgeir[{extra}]"'
        raise EdgeIRError(f"{purpose} needs {module}, which is not installed: {how}") from None


FOREIGN_ASSUMPTIONS = "N x 3 x H x W float32 RGB in [0, 1] in and out, a residual restorer"
"""What a model without an edgeir manifest is assumed to take and return."""


def check_sidecar_matches_embedded(sidecar: Manifest | None, embedded: Manifest | None, path: object) -> None:
    """The manifest beside an artifact against the copy embedded in it at export: a sidecar
    edited by hand (a widened shape range, another precision) disagrees with the embedded
    copy, which the artifact's SHA-256 covers, and is refused naming the fields."""
    if sidecar is None or embedded is None:
        return
    ours, theirs = sidecar.metadata(), embedded.metadata()
    differing = sorted(k.removeprefix("edgeir.") for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
    if differing:
        raise EdgeIRError(
            f"expected the manifest beside {path} to match the copy embedded in the model, found "
            f"{', '.join(differing)} changed: restore it from the export, or delete it (the embedded "
            "copy is then used)"
        )


def refused_input(backend: str, path: object, x: np.ndarray, accepts: str, exc: Exception) -> EdgeIRError:
    """A runtime's own error on a call, as one line naming the artifact, the input given and
    what the artifact accepts (instead of a traceback from inside the runtime)."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return EdgeIRError(
        f"expected an input {path} accepts ({accepts}), found {backend} refusing a "
        f"{'x'.join(map(str, x.shape))} {x.dtype} input: {first[:300]}"
    )


def artifact_task(manifest: Manifest | None, task: str | None, path: object, notes: list[str]) -> str:
    """The task an artifact was exported for (it sets the size rule): the manifest's, which
    a different ``task`` given by the caller contradicts; else the caller's; else the
    default, with a note saying it was assumed."""
    from edgeir.models.registry import DEFAULT_TASK

    if manifest is not None:
        if task is not None and task != manifest.task:
            raise EdgeIRError(f"expected task {task} as given, found a {manifest.task} model in {path}")
        return manifest.task
    if task is None:
        notes.append(f"no edgeir manifest or metadata: assuming {FOREIGN_ASSUMPTIONS}, and the "
                     f"{DEFAULT_TASK} size rule")
        return DEFAULT_TASK
    notes.append(f"no edgeir manifest or metadata: assuming {FOREIGN_ASSUMPTIONS}")
    return task


class Runtime(ABC):
    info: RuntimeInfo
    closed: bool = False
    """Set by :meth:`close`; a closed runtime refuses every call with one line."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.check_input(x)
        return self._run(x)

    def check_open(self) -> None:
        """One line instead of an AttributeError from a released session."""
        if self.closed:
            raise EdgeIRError(f"expected an open runtime, found this {self.info.backend} runtime closed: "
                              "load the model again")

    @abstractmethod
    def _run(self, x: np.ndarray) -> np.ndarray:
        """Run a checked N x 3 x H x W float32 batch."""

    def check_input(self, x: np.ndarray) -> None:
        self.check_open()
        if not isinstance(x, np.ndarray) or x.dtype != np.float32:
            found = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
            raise EdgeIRError(f"expected a float32 numpy array, found {found}")
        if x.ndim != 4 or x.shape[1] != 3:
            raise EdgeIRError(f"expected an N x 3 x H x W array, found shape {x.shape}")
        n, _, h, w = x.shape
        check_size(h, w, self.info.dilations, f"this {self.info.backend} model")
        if not np.isfinite(x).all():
            bad = x.size - int(np.isfinite(x).sum())
            raise EdgeIRError(f"expected finite input values, found {bad} NaN or infinite value(s)")
        if self.info.shapes is not None:
            self.info.shapes.check(n, h, w)

    def device_timer(self, x: np.ndarray) -> Callable[[], float] | None:
        """For a runtime on a GPU: a callable that runs ``x`` (copied to the device once) and
        returns the milliseconds the device spent, so copies and Python overhead can be told
        apart from the network. None where the network runs on the host: there the
        end-to-end time is the device time."""
        return None

    @property
    def max_batch(self) -> int | None:
        """Largest batch the artifact takes; None when unbounded."""
        shapes = self.info.shapes
        return shapes.max_batch if shapes is not None and shapes.static else None

    def close(self) -> None:
        """Release the runtime's resources (sessions, GPU memory); closing twice is harmless."""
        if not self.closed:
            self.closed = True
            self._release()

    def _release(self) -> None:
        """What :meth:`close` frees: a backend's sessions, buffers, streams."""
