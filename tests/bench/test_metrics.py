"""Metrics agree with scikit-image on the same arrays, with upstream's 8-bit rounding."""

import math

import numpy as np
import pytest
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from edgeir.bench.metrics import psnr, ssim, to_unit_8bit
from edgeir.errors import EdgeIRError


def _pair(seed=0):
    rng = np.random.default_rng(seed)
    sharp = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    restored = np.clip(sharp / 255.0 + rng.normal(0, 0.03, sharp.shape), -0.1, 1.1).astype(np.float32)
    return restored, sharp


def test_float_output_is_clamped_and_rounded_to_8_bits():
    x = np.array([[[-0.2, 0.5, 1.3]]], dtype=np.float32)
    assert np.array_equal(to_unit_8bit(x), np.array([[[0.0, 128 / 255, 1.0]]]))


def test_psnr_and_ssim_match_scikit_image():
    restored, sharp = _pair()
    a, b = np.rint(np.clip(restored, 0, 1) * 255) / 255, sharp / 255.0
    assert psnr(restored, sharp) == pytest.approx(peak_signal_noise_ratio(b, a, data_range=1.0), abs=1e-6)
    assert ssim(restored, sharp) == pytest.approx(structural_similarity(b, a, data_range=1.0, channel_axis=2), abs=1e-6)


def test_y_channel_matches_scikit_image_luma():
    restored, sharp = _pair(1)
    a = rgb2ycbcr(np.rint(np.clip(restored, 0, 1) * 255) / 255)[..., 0] / 255
    b = rgb2ycbcr(sharp / 255.0)[..., 0] / 255
    assert psnr(restored, sharp, y_channel=True) == pytest.approx(peak_signal_noise_ratio(b, a, data_range=1.0), abs=1e-6)
    assert ssim(restored, sharp, y_channel=True) == pytest.approx(structural_similarity(b, a, data_range=1.0), abs=1e-6)
    assert psnr(restored, sharp, y_channel=True) != psnr(restored, sharp)


def test_identical_images_are_infinitely_close():
    _, sharp = _pair()
    assert math.isinf(psnr(sharp, sharp)) and ssim(sharp, sharp) == pytest.approx(1.0)


def test_mismatched_images_are_refused():
    restored, sharp = _pair()
    with pytest.raises(EdgeIRError, match="two H x W x 3 images of one size"):
        psnr(restored[:10], sharp)


def test_smooth_frames_match_scikit_image_too():
    """Flat regions make the window variances tiny: the summed-area means must stay exact there."""
    y, x = np.mgrid[0:256, 0:256] / 256.0
    sharp = np.rint(np.stack([x, y, (x + y) / 2], axis=2) * 255).astype(np.uint8)
    restored = (sharp / 255.0 + np.random.default_rng(2).normal(0, 0.002, sharp.shape)).astype(np.float32)
    a, b = np.rint(np.clip(restored, 0, 1) * 255) / 255, sharp / 255.0
    assert ssim(restored, sharp) == pytest.approx(structural_similarity(b, a, data_range=1.0, channel_axis=2), abs=1e-7)
    assert psnr(restored, sharp) == pytest.approx(peak_signal_noise_ratio(b, a, data_range=1.0), abs=1e-6)
