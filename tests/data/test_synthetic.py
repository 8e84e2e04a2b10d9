import numpy as np
import pytest

from edgeir import EdgeIRError
from edgeir.data.synthetic import SPLIT_PHOTOS, SPLIT_SEEDS, SyntheticBlur, curved_kernel, photo

pytest.importorskip("skimage", reason="the data extra is not installed")
pytest.importorskip("albumentations", reason="the data extra is not installed")


def _psnr(a, b):
    return 10 * np.log10(255.0**2 / np.mean((a.astype(float) - b.astype(float)) ** 2))


def test_items_are_reproducible_and_shaped():
    first = SyntheticBlur("eval", (256, 288))[5]
    again = SyntheticBlur("eval", (256, 288))[5]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    blurred, sharp = first
    assert blurred.shape == sharp.shape == (256, 288, 3) and blurred.dtype == np.uint8


def test_splits_are_disjoint():
    photos = [set(v) for v in SPLIT_PHOTOS.values()]
    assert not (photos[0] & photos[1] or photos[0] & photos[2] or photos[1] & photos[2])
    assert len(set(SPLIT_SEEDS.values())) == len(SPLIT_SEEDS)  # textures: disjoint seed streams


def test_pairs_are_blurred():
    data = SyntheticBlur("eval", (256, 256), length=12)
    scores = [_psnr(*data[i]) for i in range(12)]
    assert all(s < 45 for s in scores) and np.mean(scores) < 35


def test_every_shipped_photo_loads():
    for names in SPLIT_PHOTOS.values():
        for name in names:
            image = photo(name)
            assert image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) >= 320


def test_curved_kernel_is_normalised():
    kernel = curved_kernel(np.random.default_rng(0), 21)
    assert kernel.shape == (21, 21) and abs(kernel.sum() - 1) < 1e-5 and (kernel >= 0).all()
    assert (kernel > 0).sum() > 5


def test_only_blur_tasks():
    with pytest.raises(EdgeIRError, match="deblurring task"):
        SyntheticBlur("train", task="derain")
    with pytest.raises(EdgeIRError, match="split among"):
        SyntheticBlur("test")
