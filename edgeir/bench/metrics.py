"""Image quality as upstream evaluation measures it: PSNR and SSIM, in numpy.

Restored frames are clamped to [0, 1] and rounded to 8 bits before scoring (what a saved
frame holds), then compared on RGB in [0, 1]; ``y_channel`` scores the luma of ITU-R BT.601
instead, as much of the deblurring literature reports.

These are written here rather than taken from scikit-image because the device bench runs
in an install of numpy and one runtime, and host and device must score with the same code
for their figures to be compared. They follow scikit-image's definitions exactly
(``peak_signal_noise_ratio``; ``structural_similarity`` with its defaults: a 7 x 7 uniform
window, sample covariance, K1 0.01, K2 0.03, the border of half a window left out, the mean
over channels; ``rgb2ycbcr``'s luma), and a test holds them to scikit-image's results.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from edgeir.errors import EdgeIRError

WINDOW = 7
K1, K2 = 0.01, 0.03
LUMA = np.array([65.481, 128.553, 24.966])
"""BT.601 Y from RGB in [0, 1], in 8-bit levels (+16 offset), as ``skimage.color.rgb2ycbcr``."""


def to_unit_8bit(image: np.ndarray) -> np.ndarray:
    """H x W x 3 uint8, or float in [0, 1] (clamped, rounded to 8 bits): float64 in [0, 1]."""
    if image.dtype == np.uint8:
        return image.astype(np.float64) / 255.0
    if not np.issubdtype(image.dtype, np.floating):
        raise EdgeIRError(f"expected a uint8 or float image, found {image.dtype}")
    return np.rint(np.clip(image.astype(np.float64), 0.0, 1.0) * 255.0) / 255.0


def _luma(image: np.ndarray) -> np.ndarray:
    return (image @ LUMA + 16.0) / 255.0  # Y in [16, 235] of 255, scaled to [0, 1]


def _prepared(restored: np.ndarray, sharp: np.ndarray, y_channel: bool) -> tuple[np.ndarray, np.ndarray]:
    if restored.shape != sharp.shape or restored.ndim != 3 or restored.shape[2] != 3:
        raise EdgeIRError(f"expected two H x W x 3 images of one size, found {restored.shape} and {sharp.shape}")
    a, b = to_unit_8bit(restored), to_unit_8bit(sharp)
    return (_luma(a), _luma(b)) if y_channel else (a, b)


def psnr_db(reference: np.ndarray, candidate: np.ndarray) -> float:
    """PSNR in dB of any two arrays of one shape, peak 1.0, as they are (no rounding);
    infinite when they are identical, as scikit-image's ``peak_signal_noise_ratio``. The one
    PSNR of edgeir: image scores, export parity and training validation all come here."""
    if reference.shape != candidate.shape:
        raise EdgeIRError(f"expected two arrays of one shape, found {reference.shape} and {candidate.shape}")
    mse = float(np.mean((candidate.astype(np.float64) - reference.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else float(10.0 * np.log10(1.0 / mse))


def mean_db(values: Iterable[float]) -> float:
    """Mean PSNR of a set of frames: identical frames (infinite) say nothing about the error
    of the others and are left out; infinite only when every frame is identical."""
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.inf


def psnr(restored: np.ndarray, sharp: np.ndarray, y_channel: bool = False) -> float:
    """PSNR in dB of two images as saved (8-bit levels, see :func:`to_unit_8bit`); infinite
    for identical images."""
    a, b = _prepared(restored, sharp, y_channel)
    return psnr_db(b, a)


def _window_means(x: np.ndarray) -> np.ndarray:
    """Mean of every full WINDOW x WINDOW window of an H x W plane (summed-area table)."""
    table = np.zeros((x.shape[0] + 1, x.shape[1] + 1))
    table[1:, 1:] = x.cumsum(axis=0).cumsum(axis=1)
    k = WINDOW
    sums = table[k:, k:] - table[:-k, k:] - table[k:, :-k] + table[:-k, :-k]
    return sums / (k * k)


def _ssim_plane(a: np.ndarray, b: np.ndarray) -> float:
    if min(a.shape) < WINDOW:
        raise EdgeIRError(f"expected images of at least {WINDOW}x{WINDOW} for SSIM, found {a.shape[0]}x{a.shape[1]}")
    n = WINDOW * WINDOW
    covariance = n / (n - 1)  # sample covariance, as scikit-image by default
    ua, ub = _window_means(a), _window_means(b)
    va = covariance * (_window_means(a * a) - ua * ua)
    vb = covariance * (_window_means(b * b) - ub * ub)
    vab = covariance * (_window_means(a * b) - ua * ub)
    c1, c2 = K1 ** 2, K2 ** 2  # data range 1
    s = ((2 * ua * ub + c1) * (2 * vab + c2)) / ((ua * ua + ub * ub + c1) * (va + vb + c2))
    return float(s.mean())


def ssim(restored: np.ndarray, sharp: np.ndarray, y_channel: bool = False) -> float:
    a, b = _prepared(restored, sharp, y_channel)
    if y_channel:
        return _ssim_plane(a, b)
    return float(np.mean([_ssim_plane(a[..., c], b[..., c]) for c in range(a.shape[2])]))
