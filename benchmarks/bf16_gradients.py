"""Does bf16 autocast change what a training step does? Loss and gradient, bf16 vs FP32.

    python benchmarks/bf16_gradients.py [CKPT ...] [--batches 4]

For the same weights and batches (synthetic train split, batch 2, 256x256), computes the
upstream loss and the full gradient once in FP32 and once under bf16 autocast, and prints
the relative loss difference and the cosine similarity of the two gradients. Checkpoints
default to a fresh model and the packaged demo weights. A cosine near 1 means a bf16
step moves the weights the way an FP32 step would; Adam then normalises the magnitude.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from _common import cpu_name

from edgeir.data.synthetic import SyntheticBlur
from edgeir.models import create_model, load_checkpoint
from edgeir.models.weights import demo_path
from edgeir.train import TrainConfig, sample_batch, upstream_loss


def _loss_and_gradient(model, batch, bf16: bool) -> tuple[float, torch.Tensor]:
    blurred, sharp = batch
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        outputs = model(blurred)
    loss = upstream_loss([o.float() for o in outputs], sharp)
    model.zero_grad(set_to_none=True)
    loss.backward()
    return loss.item(), torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*")
    parser.add_argument("--batches", type=int, default=4)
    args = parser.parse_args()

    config = TrainConfig()
    pairs = SyntheticBlur("train", (256, 256), length=1000)
    sources = args.checkpoints or ["init", str(demo_path("s", "motion-deblur"))]
    print(f"CPU: {cpu_name()}; ConvIR-S, batch 2, 256x256, {args.batches} batches\n")
    print("| weights | mean relative loss difference | gradient cosine (min / mean) |")
    print("|---|---|---|")
    for source in sources:
        torch.manual_seed(0)
        model = create_model("s") if source == "init" else load_checkpoint(source)
        model.train()
        # BatchNorm running statistics would drift between the two passes: freeze them.
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = 0.0
        differences, cosines = [], []
        for index in range(args.batches):
            batch = sample_batch(pairs, 10_000 + index, config)
            loss32, grad32 = _loss_and_gradient(model, batch, bf16=False)
            loss16, grad16 = _loss_and_gradient(model, batch, bf16=True)
            differences.append(abs(loss16 - loss32) / loss32)
            cosines.append(torch.nn.functional.cosine_similarity(grad32, grad16, dim=0).item())
        name = "fresh initialisation" if source == "init" else source
        print(f"| {name} | {statistics.mean(differences):.4f} | {min(cosines):.4f} / {statistics.mean(cosines):.4f} |")


if __name__ == "__main__":
    main()
