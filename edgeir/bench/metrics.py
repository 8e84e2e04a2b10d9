"""Image quality as upstream evaluation measures it, through scikit-image.

Restored frames are clamped to [0, 1] and rounded to 8 bits before scoring (what a saved
frame holds), then compared on RGB in [0, 1]; ``y_channel`` scores the luma of ITU-R BT.601
instead, as much of the deblurring literature reports. SSIM is scikit-image's, over the
three channels (or luma), with the same data range.
"""

from __future__ import annotations

import numpy as np

from edgeir.errors import EdgeIRError


def to_unit_8bit(image: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8, or float in [0, 1] (clamped, rounded to 8 bits): float64 in [0, 1]."""
    if image.dtype == np.uint8:
        return image.astype(np.float64) / 255.0
    if not np.issubdtype(image.dtype, np.floating):
        raise EdgeIRError(f"expected a uint8 or float image, found {image.dtype}")
    return np.rint(np.clip(image.astype(np.float64), 0.0, 1.0) * 255.0) / 255.0


def _luma(image: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2ycbcr

    return rgb2ycbcr(image)[..., 0] / 255.0  # Y in [16, 235] of 255, scaled to [0, 1]


def _prepared(restored: np.ndarray, sharp: np.ndarray, y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    if restored.shape != sharp.shape or restored.ndim != 3 or restored.shape[2] != 3:
        raise EdgeIRError(f"expected two H x W x 3 images of one size, found {restored.shape} and {sharp.shape}")
    a, b = to_unit_8bit(restored), to_unit_8bit(sharp)
    return (_luma(a), _luma(b)) if y_channel else (a, b)


def psnr(restored: np.ndarray, sharp: np.ndarray, y_channel: bool = False) -> float:
    """PSNR in dB (peak 1.0); infinite for identical images."""
    from skimage.metrics import peak_signal_noise_ratio

    a, b = _prepared(restored, sharp, y_channel)
    if np.array_equal(a, b):
        return float("inf")
    return float(peak_signal_noise_ratio(b, a, data_range=1.0))


def ssim(restored: np.ndarray, sharp: np.ndarray, y_channel: bool = False) -> float:
    from skimage.metrics import structural_similarity

    a, b = _prepared(restored, sharp, y_channel)
    return float(structural_similarity(b, a, data_range=1.0, channel_axis=None if y_channel else 2))
