"""Quality of a ConvIR checkpoint on the held-out synthetic evaluation split.

    python benchmarks/demo_weights.py [CKPT] [--task motion-deblur] [--size 256] [--frames 24]

Without CKPT it measures the demo weights packaged with edgeir.

Mean PSNR (RGB, after clamping and 8-bit rounding, as upstream evaluates) and SSIM
(scikit-image, on 8-bit RGB) of the restored frames and of the blurred inputs against
the sharp frames of the synthetic ``eval`` split, which training never sees.
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from edgeir.data.synthetic import SyntheticBlur
from edgeir.models import load_checkpoint
from edgeir.models.weights import demo_path


def _scores(candidate: np.ndarray, sharp: np.ndarray) -> tuple[float, float]:
    return (
        peak_signal_noise_ratio(sharp, candidate, data_range=255),
        structural_similarity(sharp, candidate, channel_axis=2, data_range=255),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", help="default: the packaged demo weights")
    parser.add_argument("--task", default="motion-deblur")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--frames", type=int, default=24)
    args = parser.parse_args()

    if args.checkpoint is None:
        args.checkpoint = demo_path("s", args.task)
        if args.checkpoint is None:
            parser.error(f"no demo weights for {args.task}: pass a checkpoint")
    model = load_checkpoint(args.checkpoint, task=args.task)
    frames = SyntheticBlur("eval", (args.size, args.size), length=args.frames, task=args.task)
    restored_scores, blurred_scores = [], []
    with torch.inference_mode():
        for blurred, sharp in frames:
            x = torch.from_numpy(blurred).permute(2, 0, 1)[None].float() / 255
            y = model(x)[2][0].clamp(0, 1).permute(1, 2, 0).numpy()
            restored = np.rint(y * 255).astype(np.uint8)
            restored_scores.append(_scores(restored, sharp))
            blurred_scores.append(_scores(blurred, sharp))
    psnr_r, ssim_r = (statistics.mean(s) for s in zip(*restored_scores))
    psnr_b, ssim_b = (statistics.mean(s) for s in zip(*blurred_scores))
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    steps = state.get("step", "unknown") if isinstance(state, dict) else "unknown"
    print(f"{args.checkpoint} (training step {steps}), synthetic eval split, {len(frames)} frames "
          f"of {args.size}x{args.size}\n")
    print("| | PSNR dB | SSIM |")
    print("|---|---|---|")
    print(f"| blurred input | {psnr_b:.2f} | {ssim_b:.4f} |")
    print(f"| restored | {psnr_r:.2f} | {ssim_r:.4f} |")
    print(f"| gain | {psnr_r - psnr_b:+.2f} | {ssim_r - ssim_b:+.4f} |")


if __name__ == "__main__":
    main()
