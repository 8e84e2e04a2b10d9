"""Which weights a command uses, and how the choice is described to the user.

ConvIR-S for motion deblurring ships with demo weights trained by ``edgeir train`` on the
synthetic blur source (no download): stored in FP16 inside the package to halve its size,
loaded as FP32. They make the defaults restore real blur, so the PSNR figures the tools
report mean something. Every other variant and task starts from random initialisation
unless ``--weights`` names a checkpoint, and every command says which of the three it used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeir.errors import EdgeIRError
from edgeir.models.registry import get_task, get_variant

DEMO_DIR = Path(__file__).with_name("demo")
DEMO_FILES = {("s", "motion-deblur"): "convir-s_motion-deblur.fp16.pt"}
DEMO_DESCRIPTION = "demo weights trained on synthetic blur, not GoPro"
DEMO_RECIPE = (
    "edgeir train --variant s --task motion-deblur --data synthetic --steps 2000 --size 256 "
    "--batch 2 --lr 3e-4 --warmup 100 --val-every 250 --bf16 --bn-stats batch "
    "--out convir-s-demo.pkl, stopped after step 1025 of 2000"
)
"""How the demo weights were made (then stored in FP16 by ``store_demo``)."""

KEYWORDS = ("demo", "random")


@dataclass(frozen=True)
class Weights:
    """A resolved weights choice: ``kind`` is ``checkpoint``, ``demo`` or ``random``."""

    kind: str
    path: Path | None
    description: str

    def record(self) -> dict[str, Any]:
        """For manifests: enough to tell later which weights an artifact holds."""
        digest = hashlib.sha256(self.path.read_bytes()).hexdigest() if self.path else None
        path = f"edgeir:{self.path.name}" if self.kind == "demo" and self.path else self.path
        record = {"kind": self.kind, "path": None if path is None else str(path), "sha256": digest,
                  "description": self.description}
        if self.kind == "demo":
            record["recipe"] = DEMO_RECIPE
        return record

    def build(self, variant: str, task: str) -> Any:
        """The ConvIR (FP32, eval mode) these weights describe."""
        from edgeir.models.api import create_model, load_checkpoint

        if self.path is None:
            return create_model(variant, task)
        return load_checkpoint(self.path, variant=variant, task=task)


def demo_path(variant: str, task: str) -> Path | None:
    """The packaged demo checkpoint for ``variant``/``task``, or None where there is none."""
    name = DEMO_FILES.get((get_variant(variant).name, get_task(task).name))
    return DEMO_DIR / name if name else None


def random_description(variant: str, reason: str) -> str:
    return (f"random initialisation of ConvIR-{variant.upper()} ({reason}): the graph is real, its "
            "outputs are not restorations")


def choose_weights(variant: str, task: str, weights: str | Path | None = None) -> Weights:
    """``weights`` is a checkpoint path, ``"demo"``, ``"random"``, or None for the default
    (the demo weights where they exist, random initialisation elsewhere)."""
    demo = demo_path(variant, task)
    if weights is None:
        if demo is not None:
            return _demo(demo)
        return Weights("random", None, random_description(
            variant, f"no --weights given and no demo weights for {variant}/{task}"))
    if str(weights) == "random":
        return Weights("random", None, random_description(variant, "--weights random"))
    if str(weights) == "demo":
        if demo is None:
            have = ", ".join(f"{v}/{t}" for v, t in DEMO_FILES)
            raise EdgeIRError(f"expected a variant/task with demo weights ({have}), found {variant}/{task}")
        return _demo(demo)
    path = Path(weights)
    if not path.is_file():
        raise EdgeIRError(
            f"expected a checkpoint file, {' or '.join(KEYWORDS)} for --weights, found nothing at {path}"
        )
    return Weights("checkpoint", path, f"checkpoint {path.name}")


def _demo(path: Path) -> Weights:
    if not path.is_file():
        raise EdgeIRError(
            f"expected the packaged demo weights at {path}, found nothing: reinstall edgeir"
        )
    return Weights("demo", path, DEMO_DESCRIPTION)


def store_demo(checkpoint: str | Path, variant: str, task: str) -> Path:
    """Write a trained checkpoint's weights in FP16 (upstream layout) as the demo file."""
    import torch

    from edgeir.fileio import atomic_path
    from edgeir.models.api import load_checkpoint

    name = DEMO_FILES.get((variant, task))
    if name is None:
        raise EdgeIRError(f"expected a variant/task listed in DEMO_FILES, found {variant}/{task}")
    state = load_checkpoint(checkpoint, variant=variant, task=task).state_dict()
    half = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    DEMO_DIR.mkdir(exist_ok=True)
    with atomic_path(DEMO_DIR / name) as temp:
        torch.save({"model": half}, temp)
    return DEMO_DIR / name
