"""Fine-tuning ConvIR with upstream's recipe, small enough to run on a CPU.

Objective as in c-yn/ConvIR: L1 on the three output scales against bilinearly
downscaled targets, plus 0.1 x L1 of their FFTs (real and imaginary parts); Adam,
gradient norm clipped at 0.001, linear warm-up then cosine decay to 1e-6. Random crops
and flips, a fixed seed, validation PSNR on held-out frames, resumable, saved in
upstream's ``{'model': state_dict}`` layout (plus the resume state beside it in the same
file, which upstream tools ignore).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from edgeir.bench.metrics import mean_db, psnr
from edgeir.data.synthetic import Pair
from edgeir.errors import EdgeIRError
from edgeir.fileio import atomic_path, check_writable
from edgeir.models import ConvIR, create_model, load_checkpoint, min_side_for_task
from edgeir.models.registry import DEFAULT_TASK
from edgeir.runtimes.frames import centre_crop

log = logging.getLogger("edgeir")


@dataclass
class TrainConfig:
    variant: str = "s"
    task: str = DEFAULT_TASK
    data: str = "synthetic"
    steps: int = 1000
    crop: int = 256
    batch: int = 2
    lr: float = 1e-4
    warmup: int = 50
    min_lr: float = 1e-6
    clip_grad: float = 0.001
    loss: str = "upstream"
    """``upstream``: L1 of the three scales + 0.1 x L1 of their FFTs; ``l1``: the L1 terms alone."""
    harm_weight: float = 0.0
    """Weight of a hinge on the decibels by which a crop's restored output is further from
    its target than the blurred input was: a mean-seeking loss trades a few frames made
    worse for a higher mean, and a demo network must not hurt the photo it is given."""
    harm_margin: float = 0.0
    """The gain (dB) a crop must reach before the hinge lets go: above 0 it keeps pushing the
    crops that barely gain, so that frames unlike the training ones keep a distance from a
    loss."""
    seed: int = 0
    val_every: int = 100
    val_frames: int = 8
    save_every: int = 50
    bf16: bool = False
    device: str = "cpu"
    """``cpu`` or ``cuda`` (``cuda:N``): where the forward and backward passes run."""
    init: str | None = None
    bn_stats: str = "frozen"
    """``frozen``: BatchNorm uses its running statistics in training too (an affine layer
    with learnable scale and shift); ``batch``: batch statistics, as upstream trains. The
    BatchNorm sits on globally pooled features, one value per image and channel, so with
    a batch of 2 batch statistics normalise every value to exactly +1 or -1: the dynamic
    filters train on binary taps and run on something else."""

    def check(self) -> None:
        smallest = min_side_for_task(self.task)
        if self.crop < smallest or self.crop % 32:
            raise EdgeIRError(
                f"expected --crop a multiple of 32 and at least {smallest} (smaller inputs are "
                f"illegal for ConvIR), found {self.crop}"
            )
        if self.bn_stats not in BN_STATS:
            raise EdgeIRError(f"expected --bn-stats {' or '.join(BN_STATS)}, found {self.bn_stats!r}")
        if self.batch < 2:
            raise EdgeIRError(
                f"expected --batch of at least 2 (the BatchNorm on globally pooled features "
                f"needs two images in training mode), found {self.batch}"
            )
        check_device(self.device)
        if self.loss not in LOSSES:
            raise EdgeIRError(f"expected --loss {' or '.join(LOSSES)}, found {self.loss!r}")
        if self.harm_weight < 0 or self.harm_margin < 0:
            raise EdgeIRError(f"expected --harm-weight and --harm-margin of 0 or more, found "
                              f"{self.harm_weight} and {self.harm_margin}")
        if self.clip_grad < 0:
            raise EdgeIRError(f"expected --clip-grad of 0 (off) or more, found {self.clip_grad}")
        if self.steps < 1 or self.lr <= 0:
            raise EdgeIRError(f"expected positive --steps and --lr, found {self.steps} and {self.lr}")
        for name in ("val_every", "save_every", "val_frames", "warmup"):
            if getattr(self, name) < 1:
                flag = "--" + name.replace("_", "-")
                raise EdgeIRError(f"expected {flag} of at least 1, found {getattr(self, name)}")

    def differences(self, stored: dict[str, Any]) -> list[str]:
        """Settings that differ from a run being resumed. The step count, how often to
        validate and save, and where and how fast it runs (bf16 autocast, which is faster only
        on CPUs with AVX-512 bf16; the device) may change."""
        mutable = {"steps", "val_every", "val_frames", "save_every", "init", "bf16", "device"}
        return [
            f"--{k.replace('_', '-')} {stored[k]} (given {v})"
            for k, v in asdict(self).items()
            if k not in mutable and k in stored and stored[k] != v
        ]


def check_device(device: str) -> None:
    """A one-line error for a device this torch cannot train on, before any work."""
    kind, _, index = device.partition(":")
    if kind not in ("cpu", "cuda") or (index and not index.isdigit()) or (kind == "cpu" and index):
        raise EdgeIRError(f"expected --device cpu, cuda or cuda:N, found {device!r}")
    if kind == "cuda":
        found = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if found <= int(index or 0):
            raise EdgeIRError(
                f"expected a CUDA GPU for --device {device}, found {found} (torch {torch.__version__}, "
                f"built for CUDA {torch.version.cuda or 'no CUDA: a CPU build'})"
            )


LOSSES = ("upstream", "l1")


def upstream_loss(outputs: Sequence[torch.Tensor], target: torch.Tensor, spectral_weight: float = 0.1) -> torch.Tensor:
    """L1 on 1/4, 1/2 and full scale + 0.1 x L1 of the FFTs (upstream ``train.py``);
    ``spectral_weight`` 0 leaves the L1 terms alone (``--loss l1``)."""
    targets = [
        F.interpolate(target, scale_factor=0.25, mode="bilinear"),
        F.interpolate(target, scale_factor=0.5, mode="bilinear"),
        target,
    ]
    content = sum(F.l1_loss(o, t) for o, t in zip(outputs, targets))
    if spectral_weight == 0:
        return content
    spectral = 0.0
    for o, t in zip(outputs, targets):
        fo, ft = torch.fft.fft2(o.float()), torch.fft.fft2(t)
        spectral = spectral + F.l1_loss(torch.stack((fo.real, fo.imag), -1), torch.stack((ft.real, ft.imag), -1))
    return content + spectral_weight * spectral


def harm_db(restored: torch.Tensor, blurred: torch.Tensor, target: torch.Tensor, margin: float = 0.0) -> torch.Tensor:
    """Per crop, how many dB the restored crop falls short of gaining ``margin`` over the
    blurred one (0 where it gains more): with no margin, the PSNR lost, on unclamped values."""
    restored_mse = ((restored - target) ** 2).mean(dim=(1, 2, 3))
    # The floor keeps an unblurred crop (input equal to its target) finite.
    blurred_mse = ((blurred - target) ** 2).mean(dim=(1, 2, 3)).clamp_min(1e-8)
    return F.relu(10 * torch.log10(restored_mse.clamp_min(1e-10) / blurred_mse) + margin)


BN_STATS = ("frozen", "batch")


def set_training(model: ConvIR, config: TrainConfig) -> None:
    """Training mode, with BatchNorm left in eval mode when its statistics are frozen."""
    model.train()
    if config.bn_stats == "frozen":
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.eval()


def learning_rate(step: int, config: TrainConfig) -> float:
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + math.cos(math.pi * min(progress, 1.0)))


def _to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0


def sample_batch(pairs: Sequence[Pair], step: int, config: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch ``step``: seeded random pairs, crops and flips (the same crop and flip for
    the blurred frame and its target)."""
    rng = np.random.default_rng([config.seed, step])
    blurred, sharp = [], []
    for _ in range(config.batch):
        blur, target = pairs[int(rng.integers(len(pairs)))]
        h, w = blur.shape[:2]
        if h < config.crop or w < config.crop:
            raise EdgeIRError(f"expected training frames of at least {config.crop}x{config.crop}, found {w}x{h}")
        y, x = int(rng.integers(0, h - config.crop + 1)), int(rng.integers(0, w - config.crop + 1))
        window = (slice(y, y + config.crop), slice(x, x + config.crop))
        blur, target = blur[window], target[window]
        if rng.random() < 0.5:
            blur, target = blur[:, ::-1], target[:, ::-1]
        if rng.random() < 0.5:
            blur, target = blur[::-1], target[::-1]
        blurred.append(np.ascontiguousarray(blur))
        sharp.append(np.ascontiguousarray(target))
    return _to_tensor(blurred), _to_tensor(sharp)


def center_crops(pairs: Sequence[Pair], crop: int, count: int) -> list[Pair]:
    """The first ``count`` pairs, centre-cropped to ``crop`` (validation frames)."""
    frames = []
    for index in range(min(count, len(pairs))):
        blur, sharp = pairs[index]
        h, w = blur.shape[:2]
        if h < crop or w < crop:
            raise EdgeIRError(f"expected validation frames of at least {crop}x{crop}, found {w}x{h}")
        frames.append((centre_crop(blur, (crop, crop)), centre_crop(sharp, (crop, crop))))
    return frames


def _image(tensor: torch.Tensor) -> np.ndarray:
    """1 x 3 x H x W in [0, 1] as the H x W x 3 image the metrics score."""
    return tensor[0].permute(1, 2, 0).float().numpy()


@torch.no_grad()
def validate(model: ConvIR, frames: Sequence[Pair]) -> tuple[float, float, float]:
    """Mean PSNR of the restored and of the blurred frames against the sharp ones, and the
    lowest gain of a frame (a checkpoint that hurts one frame shows here, not in the mean)."""
    was_training = model.training
    frozen = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d) and not m.training]
    model.eval()
    restored, blurred = [], []
    device = next(model.parameters()).device
    for blur, sharp in frames:
        x = _to_tensor([blur])
        restored.append(psnr(_image(model(x.to(device))[2].cpu()), sharp))
        blurred.append(psnr(blur, sharp))
    model.train(was_training)
    for module in frozen:
        module.eval()
    # A frame left identical to an identical input (inf - inf) neither gains nor loses.
    worst = min((r - b if r != b else 0.0) for r, b in zip(restored, blurred))
    return mean_db(restored), mean_db(blurred), float(worst)


def save(path: Path, model: ConvIR, optimizer: torch.optim.Optimizer, step: int, config: TrainConfig,
         history: list[dict[str, Any]]) -> None:
    with atomic_path(path) as temp:
        # Weights on the CPU whatever the device: upstream's tools load them with plain torch.load.
        weights = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        torch.save({"model": weights, "optimizer": optimizer.state_dict(), "step": step,
                    "config": asdict(config), "history": history}, temp)


def train(
    config: TrainConfig, pairs: Sequence[Pair], val_frames: Sequence[Pair], out: Path,
    resume: bool = False, progress: bool = True,
) -> dict[str, Any]:
    """Train to ``config.steps`` steps, saving to ``out`` every ``save_every`` steps."""
    config.check()
    check_writable(out.parent)
    torch.manual_seed(config.seed)
    state: dict[str, Any] | None = None
    if resume:
        if config.init:
            raise EdgeIRError("expected either --resume or --init, found both")
        if not out.is_file():
            raise EdgeIRError(f"expected a checkpoint to resume at {out}, found nothing")
        model = load_checkpoint(out, variant=config.variant, task=config.task)  # checks the file
        state = torch.load(out, map_location="cpu", weights_only=True)
        if "step" not in state or "optimizer" not in state:
            raise EdgeIRError(f"expected a resumable edgeir training checkpoint at {out}, found weights only")
        changed = config.differences(state.get("config", {}))
        if changed:
            raise EdgeIRError(
                f"expected the settings of the run being resumed, found changes: stored "
                f"{'; '.join(changed)}"
            )
    elif out.exists():
        raise EdgeIRError(
            f"expected a new --out path, found an existing {out}: pass --resume to continue it, "
            "or choose another path"
        )
    if state is None and config.init:
        model = load_checkpoint(config.init, variant=config.variant, task=config.task)
    elif state is None:
        model = create_model(config.variant, config.task)
    model.to(config.device)
    set_training(model, config)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.999), eps=1e-8)
    step = 0
    history: list[dict[str, Any]] = []
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        step = int(state["step"])
        history = list(state.get("history", []))
        log.info("resuming %s at step %d of %d", out, step, config.steps)
    from edgeir.progress import progress_bar

    bar = progress_bar("steps")
    bar.disable = not progress
    started = window_started = time.perf_counter()
    window: list[float] = []
    with bar:
        task = bar.add_task("training", total=config.steps, completed=step)
        while step < config.steps:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step, config)
            blurred, sharp = sample_batch(pairs, step, config)
            blurred, sharp = blurred.to(config.device), sharp.to(config.device)
            with torch.autocast(blurred.device.type, dtype=torch.bfloat16, enabled=config.bf16):
                outputs = model(blurred)
            outputs = [o.float() for o in outputs]
            loss = upstream_loss(outputs, sharp, 0.1 if config.loss == "upstream" else 0.0)
            if config.harm_weight > 0:
                loss = loss + config.harm_weight * harm_db(outputs[2], blurred, sharp, config.harm_margin).mean()
            if not torch.isfinite(loss):
                raise EdgeIRError(
                    f"expected a finite loss, found {loss.item()} at step {step + 1}: training "
                    f"diverged; the checkpoint at {out} (if any) holds the last good state: lower "
                    "--lr or clip gradients (--clip-grad)"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip_grad > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
            optimizer.step()
            step += 1
            record: dict[str, Any] = {"step": step, "loss": round(loss.item(), 5)}
            window.append(record["loss"])
            if step % config.val_every == 0 or step == config.steps:
                record["val_psnr"], record["val_psnr_input"], record["val_worst_gain"] = validate(model, val_frames)
                # A log line per validation, so that a run in the background (no terminal,
                # no live bar) shows its pace and trend: single-step losses are too noisy.
                now = time.perf_counter()
                log.info("step %d/%d: mean loss %.4f over %d steps, %.3f steps/s, validation PSNR "
                         "%.2f dB (blurred input %.2f dB, worst frame %+.2f dB)", step, config.steps,
                         float(np.mean(window)), len(window), len(window) / (now - window_started),
                         record["val_psnr"], record["val_psnr_input"], record["val_worst_gain"])
                window, window_started = [], now
            history.append(record)
            bar.update(task, advance=1, description=f"training loss {record['loss']:.4f}"
                       + (f" val {record['val_psnr']:.2f} dB" if "val_psnr" in record else ""))
            if step % config.save_every == 0 or step == config.steps:
                save(out, model, optimizer, step, config, history)
    return {"steps": step, "seconds": round(time.perf_counter() - started, 1), "history": history[-1:],
            "checkpoint": str(out)}
