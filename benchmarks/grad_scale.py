"""How large the gradients are that Adam sees, against its epsilon, with and without the clip.

    python benchmarks/grad_scale.py CKPT [--batches 2] [--clip 0.001]

Adam's step is lr * m / (sqrt(v) + eps) with eps = 1e-8: a parameter whose gradient is
far below eps moves at a small fraction of the learning rate. Upstream's clip of the
gradient norm to 0.001 scales every gradient down by (0.001 / norm); this prints that
scale and, per kind of parameter, the median gradient RMS before and after it, plus the
share of all parameters in tensors whose clipped gradient RMS is under eps.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from edgeir.data.synthetic import SyntheticBlur
from edgeir.models import load_checkpoint
from edgeir.train import TrainConfig, sample_batch, set_training, upstream_loss

ADAM_EPS = 1e-8
GAINS = ("lamb_l", "lamb_h", "inside_all", "gamma", "beta")
"""The zero- (or one-) initialised gains of ConvIR's dynamic filters."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--clip", type=float, default=0.001)
    args = parser.parse_args()

    config = TrainConfig(batch=2, seed=7)
    pairs = SyntheticBlur("train", (256, 256), length=1000, seed=7)
    model = load_checkpoint(args.checkpoint)
    set_training(model, config)
    print(f"{args.checkpoint}, ConvIR-S, batch 2, 256x256 synthetic train crops, BatchNorm frozen\n")
    print("| batch | loss | gradient norm | clip scale | params with clipped RMS < eps |")
    print("|---|---|---|---|---|")
    per_kind: dict[str, list[tuple[float, float]]] = {}
    for index in range(args.batches):
        model.zero_grad(set_to_none=True)
        blurred, sharp = sample_batch(pairs, index, config)
        loss = upstream_loss(model(blurred), sharp)
        loss.backward()
        named = [(n, p) for n, p in model.named_parameters() if p.grad is not None]
        norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for _, p in named)).item()
        scale = min(1.0, args.clip / norm)
        below, total = 0, 0
        for name, param in named:
            rms = param.grad.double().pow(2).mean().sqrt().item()
            kind = name.rsplit(".", 1)[-1] if name.endswith(GAINS) else "conv weights and biases"
            per_kind.setdefault(kind, []).append((rms, rms * scale))
            total += param.numel()
            below += param.numel() if rms * scale < ADAM_EPS else 0
        print(f"| {index} | {loss.item():.3f} | {norm:.3g} | {scale:.3g} | {below / total:.1%} |")
    print("\n| parameters | tensors | median gradient RMS | after the clip |")
    print("|---|---|---|---|")
    for kind, values in per_kind.items():
        raw = statistics.median(v[0] for v in values)
        clipped = statistics.median(v[1] for v in values)
        print(f"| {kind} | {len(values) // args.batches} | {raw:.2e} | {clipped:.2e} |")


if __name__ == "__main__":
    main()
