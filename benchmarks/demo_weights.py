"""Quality of a ConvIR checkpoint on the two held-out synthetic sets, and whether it may ship.

    python benchmarks/demo_weights.py [CKPT ...] [--task motion-deblur] [--size 256] [--frames 24]

Without CKPT it measures the demo weights packaged with edgeir. For each checkpoint and each
held-out set (``eval``: the training generators on other photographs; ``foreign``: other
photographs, another scene generator and other blur kernels, see edgeir.data.synthetic) it
prints the PSNR of the blurred input and of the restored frames (edgeir.bench.metrics: RGB,
clamped and rounded to 8 bits), the gain per frame (mean, min, how many frames got worse),
SSIM, and the mean signed change of each channel (restored minus input, in 8-bit levels: a
colour cast shows here). The last line says whether the shipping rule of issue 18 holds:
on both sets a mean gain of at least +0.5 dB, no frame below -0.1 dB and every channel
within 1 level; or, failing that, no frame worse at all.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from edgeir.bench.metrics import psnr, ssim
from edgeir.data.synthetic import SyntheticBlur
from edgeir.models import load_checkpoint
from edgeir.models.weights import demo_path

SETS = ("eval", "foreign")


def evaluate(model: torch.nn.Module, frames: SyntheticBlur) -> dict[str, object]:
    gains, inputs, outputs, ssims, shifts = [], [], [], [], []
    with torch.inference_mode():
        for blurred, sharp in frames:
            x = torch.from_numpy(blurred).permute(2, 0, 1)[None].float() / 255
            restored = model(x)[2][0].clamp(0, 1).permute(1, 2, 0).numpy()
            restored8 = np.rint(restored * 255).astype(np.uint8)
            before, after = psnr(blurred, sharp), psnr(restored8, sharp)
            inputs.append(before)
            outputs.append(after)
            gains.append(after - before)
            ssims.append((ssim(blurred, sharp), ssim(restored8, sharp)))
            shifts.append((restored8.astype(float) - blurred.astype(float)).mean(axis=(0, 1)))
    gains_array = np.array(gains)
    return {
        "input_psnr": float(np.mean(inputs)), "psnr": float(np.mean(outputs)),
        "gain_mean": float(gains_array.mean()), "gain_min": float(gains_array.min()),
        "worse": int((gains_array < 0).sum()), "frames": len(gains),
        "ssim_input": float(np.mean([s[0] for s in ssims])), "ssim": float(np.mean([s[1] for s in ssims])),
        "channel_shift": np.mean(shifts, axis=0).tolist(),
    }


def verdict(results: dict[str, dict[str, object]]) -> str:
    good = all(r["gain_mean"] >= 0.5 and r["gain_min"] >= -0.1 and max(abs(c) for c in r["channel_shift"]) <= 1.0
               for r in results.values())
    if good:
        return "ships: +0.5 dB mean, no frame below -0.1 dB, no colour cast, on both sets"
    harmless = all(r["gain_min"] >= 0 for r in results.values())
    short = min(r["gain_mean"] for r in results.values())
    if harmless:
        return f"ships as never-hurting weights: every frame gains, lowest mean gain {short:+.2f} dB (target +0.5)"
    return "does not ship: " + "; ".join(f"{name}: {r['worse']}/{r['frames']} frames worse, min {r['gain_min']:+.2f} dB"
                                          for name, r in results.items() if r["gain_min"] < 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*", help="default: the packaged demo weights")
    parser.add_argument("--task", default="motion-deblur")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=24)
    args = parser.parse_args()

    checkpoints = args.checkpoints or [demo_path("s", args.task)]
    if checkpoints[0] is None:
        parser.error(f"no demo weights for {args.task}: pass a checkpoint")
    torch.set_num_threads(2)
    for checkpoint in checkpoints:
        model = load_checkpoint(checkpoint, task=args.task)
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        steps = state.get("step", "unknown") if isinstance(state, dict) else "unknown"
        print(f"\n{checkpoint} (training step {steps}), {args.frames} frames of {args.size}x{args.size} per set\n")
        print("| set | input PSNR | restored PSNR | gain mean | gain min | frames worse | SSIM input / restored "
              "| mean change R, G, B (levels) |")
        print("|---|---|---|---|---|---|---|---|")
        results = {}
        for name in SETS:
            r = evaluate(model, SyntheticBlur(name, (args.size, args.size), length=args.frames, task=args.task))
            results[name] = r
            shift = ", ".join(f"{c:+.2f}" for c in r["channel_shift"])
            print(f"| {name} | {r['input_psnr']:.2f} | {r['psnr']:.2f} | {r['gain_mean']:+.2f} | {r['gain_min']:+.2f} "
                  f"| {r['worse']}/{r['frames']} | {r['ssim_input']:.4f} / {r['ssim']:.4f} | {shift} |")
        print(f"\n{verdict(results)}")


if __name__ == "__main__":
    main()
