"""Validation curve of an ``edgeir train`` checkpoint, as a markdown table.

    python benchmarks/train_history.py RUN.pkl [--every 1]

The checkpoint keeps every step's loss and the validation PSNR of the steps that were
validated; the table shows each validation with the mean training loss since the previous
one (single-step losses at batch 2 are too noisy to read a trend from).
"""

from __future__ import annotations

import argparse
import statistics

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint")
    parser.add_argument("--every", type=int, default=1, help="show every N-th validation")
    args = parser.parse_args()

    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    if "history" not in state:
        parser.error(f"{args.checkpoint} holds no training history (not an edgeir train checkpoint)")
    config = state.get("config", {})
    print(f"{args.checkpoint}: step {state.get('step')} of {config.get('steps')}, "
          f"lr {config.get('lr')}, batch {config.get('batch')}, seed {config.get('seed')}, "
          f"init {config.get('init')}\n")
    print("| step | mean loss since last | validation PSNR dB | blurred input dB | gain dB |")
    print("|---|---|---|---|---|")
    losses: list[float] = []
    shown = 0
    for record in state["history"]:
        losses.append(record["loss"])
        if "val_psnr" not in record:
            continue
        shown += 1
        if shown % args.every == 0:
            gain = record["val_psnr"] - record["val_psnr_input"]
            print(f"| {record['step']} | {statistics.fmean(losses):.4f} | {record['val_psnr']:.2f} | "
                  f"{record['val_psnr_input']:.2f} | {gain:+.2f} |")
        losses = []


if __name__ == "__main__":
    main()
