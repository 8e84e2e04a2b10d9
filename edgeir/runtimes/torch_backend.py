"""PyTorch backend: a ConvIR (or checkpoint) run through the export rewrite."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from edgeir.errors import EdgeIRError
from edgeir.models import ConvIR, exportable, load_checkpoint
from edgeir.models.registry import DEFAULT_TASK, DEFAULT_VARIANT
from edgeir.models.rewrite import ExportableConvIR
from edgeir.models.weights import Weights
from edgeir.runtimes.base import Runtime, RuntimeInfo, time_on_stream


def _device(name: str | None) -> torch.device:
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise EdgeIRError(f"expected a torch device such as cpu or cuda:0, found {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise EdgeIRError(f"expected a CUDA GPU for device {name!r}, found none")
    return device


class TorchRuntime(Runtime):
    @classmethod
    def from_artifact(cls, path: Path, manifest: object, device: str | None = None,
                      task: str | None = None) -> TorchRuntime:
        """A checkpoint file, as ``edgeir.runtimes.load`` opens every artifact (checkpoints
        have no manifest)."""
        return cls(path, device, task=task)

    def __init__(
        self, model: ConvIR | ExportableConvIR | Weights | str | Path, device: str | None = None,
        task: str | None = None, variant: str | None = None,
    ) -> None:
        """``model`` is a ConvIR, a checkpoint path, or a ``Weights`` choice built here as
        ``variant``/``task``."""
        weights = None
        if isinstance(model, (str, Path)):
            weights = f"checkpoint {Path(model).name}"
            model = load_checkpoint(model, task=task or DEFAULT_TASK)
        elif isinstance(model, Weights):
            weights = model.description
            model = model.build(variant or DEFAULT_VARIANT, task or DEFAULT_TASK)
        elif not isinstance(model, (ConvIR, ExportableConvIR)):
            raise EdgeIRError(f"expected an edgeir ConvIR model, found {type(model).__name__}")
        elif task is not None and task != model.task.name:
            raise EdgeIRError(f"expected task {task} as given, found a {model.task.name} model")
        self.device = _device(device)
        if next(model.parameters()).device != self.device:
            # The rewrite shares the caller's parameters: move a copy, not their model.
            model = copy.deepcopy(model)
        if isinstance(model, ConvIR):
            model = exportable(model)
        self.model = model.to(self.device)
        tf32 = self.device.type == "cuda" and torch.backends.cudnn.allow_tf32
        self.info = RuntimeInfo(
            backend="torch",
            precision="tf32" if tf32 else "fp32",
            device=str(self.device),
            dilations=model.dilations,
            notes=[model.label],
            weights=weights,
        )

    def _run(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = self.model(torch.from_numpy(x).to(self.device))
        return out.float().cpu().numpy()

    def device_timer(self, x: np.ndarray) -> Callable[[], float] | None:
        """On CUDA, CUDA events around the forward pass alone, the input already on the GPU."""
        if self.device.type != "cuda":
            return None
        self.check_input(x)
        source = torch.from_numpy(x).to(self.device)

        def run_once() -> float:
            with torch.inference_mode():
                return time_on_stream(lambda: torch.cuda.Event(enable_timing=True),
                                      torch.cuda.current_stream(self.device), lambda: self.model(source))

        return run_once

    def _release(self) -> None:
        self.model = None
