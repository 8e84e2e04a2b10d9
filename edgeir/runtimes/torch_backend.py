"""PyTorch backend: a ConvIR (or checkpoint) run through the export rewrite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from edgeir.errors import EdgeIRError
from edgeir.models import ConvIR, exportable, load_checkpoint
from edgeir.models.registry import DEFAULT_TASK
from edgeir.models.rewrite import ExportableConvIR
from edgeir.runtimes.base import Runtime, RuntimeInfo


class TorchRuntime(Runtime):
    def __init__(
        self, model: ConvIR | ExportableConvIR | str | Path, device: str | None = None,
        task: str | None = None,
    ) -> None:
        if isinstance(model, (str, Path)):
            model = load_checkpoint(model, task=task or DEFAULT_TASK)
        elif task is not None and task != model.task.name:
            raise EdgeIRError(f"expected task {model.task.name} for this model, found {task}")
        if isinstance(model, ConvIR):
            model = exportable(model)
        elif not isinstance(model, ExportableConvIR):
            raise EdgeIRError(f"expected an edgeir ConvIR model, found {type(model).__name__}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.to(self.device)
        self.info = RuntimeInfo(
            backend="torch",
            precision="fp32",
            device=str(self.device),
            dilations=model.dilations,
            notes=[model.label],
        )

    def _run(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = self.model(torch.from_numpy(x).to(self.device))
        return out.float().cpu().numpy()
