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


class _NoNoise:
    """A seeded generator whose image-sized noise is zero, to look at the blur alone."""

    def __init__(self, seed):
        self._rng = np.random.default_rng(seed)

    def __getattr__(self, name):
        return getattr(self._rng, name)

    def normal(self, loc=0.0, scale=1.0, size=None):
        if size is not None and np.prod(size) > 1000:
            return np.zeros(size)
        return self._rng.normal(loc, scale, size)


@pytest.mark.parametrize("task", ["motion-deblur", "defocus-deblur"])
def test_blur_does_not_shift_the_image(task):
    """The sharp frame is the middle of the exposure: a blurred square keeps its centre
    (albumentations' MotionBlur shifts kernels by default, up to 6 px here)."""
    from edgeir.data.synthetic import degrade

    square = np.zeros((121, 121, 3), np.uint8)
    square[55:66, 55:66] = 255
    ys, xs = np.mgrid[0:121, 0:121]
    for seed in range(40):
        out = degrade(square, _NoNoise(seed), task)[:, :, 0].astype(float)
        centre = ((ys * out).sum() / out.sum(), (xs * out).sum() / out.sum())
        assert np.allclose(centre, (60, 60), atol=0.1), (seed, centre)
