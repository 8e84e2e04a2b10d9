"""Time of one training step (forward, upstream loss, backward, Adam): FP32 vs bf16 autocast.

    python benchmarks/train_step.py [--variant s] [--batch 2] [--crop 256] [--steps 4]

Steps alternate between the two modes in one process (the first of each is warm-up);
the table shows medians.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from _common import cpu_name

from edgeir.data.synthetic import SyntheticBlur
from edgeir.models import create_model
from edgeir.train import TrainConfig, sample_batch, upstream_loss


def _step(model, optimizer, batch, bf16: bool) -> float:
    blurred, sharp = batch
    start = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        outputs = model(blurred)
    loss = upstream_loss([o.float() for o in outputs], sharp)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.001)
    optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="s")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--crop", type=int, default=256)
    parser.add_argument("--steps", type=int, default=4)
    args = parser.parse_args()

    config = TrainConfig(variant=args.variant, batch=args.batch, crop=args.crop)
    pairs = SyntheticBlur("train", (args.crop, args.crop), length=64)
    models = {mode: create_model(args.variant).train() for mode in ("fp32", "bf16")}
    optimizers = {m: torch.optim.Adam(models[m].parameters(), lr=1e-4) for m in models}
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for step in range(args.steps + 1):
        batch = sample_batch(pairs, step, config)
        for mode in times:
            elapsed = _step(models[mode], optimizers[mode], batch, mode == "bf16")
            if step:
                times[mode].append(elapsed)
    print(f"CPU: {cpu_name()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"ConvIR-{args.variant.upper()}, batch {args.batch}, {args.crop}x{args.crop} crops, "
          f"median of {args.steps} steps\n")
    print("| mode | s/step |")
    print("|---|---|")
    for mode, values in times.items():
        print(f"| {mode} | {statistics.median(values):.2f} |")
    print(f"\nbf16 speed-up: {statistics.median(times['fp32']) / statistics.median(times['bf16']):.2f}x")


if __name__ == "__main__":
    main()
