import numpy as np
import pytest

from edgeir import EdgeIRError
from edgeir.data.synthetic import (
    SPLIT_PHOTOS,
    SPLIT_SEEDS,
    SyntheticBlur,
    arc_kernel,
    curved_kernel,
    photo,
    zigzag_kernel,
)

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
    from itertools import combinations

    for (a, photos_a), (b, photos_b) in combinations(SPLIT_PHOTOS.items(), 2):
        assert not set(photos_a) & set(photos_b), (a, b)
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


@pytest.mark.parametrize("make", [curved_kernel, arc_kernel, zigzag_kernel])
def test_kernels_are_normalised(make):
    for seed in range(5):
        kernel = make(np.random.default_rng(seed), 21)
        assert kernel.shape == (21, 21) and abs(kernel.sum() - 1) < 1e-5 and (kernel >= 0).all()
        assert (kernel > 0).sum() > 5


def test_only_the_train_split_jitters_colours_and_draws_arcs_and_jpeg(monkeypatch):
    """eval and calib stay as they were (their figures stay comparable); foreign has its own
    generators and never calls the training ones."""
    from edgeir.data import synthetic

    calls = []
    for name in ("colour_jitter", "arc_kernel", "degrade"):
        real = getattr(synthetic, name)
        monkeypatch.setattr(synthetic, name, lambda *a, _real=real, _name=name, **k: calls.append(
            (_name, k.get("split", a[3] if len(a) > 3 else None))) or _real(*a, **k))
    for split in ("eval", "calib", "foreign"):
        calls.clear()
        for i in range(6):
            SyntheticBlur(split, (256, 256))[i]
        assert ("colour_jitter" not in [c[0] for c in calls]) and ("arc_kernel" not in [c[0] for c in calls]), split
        assert all(c == ("degrade", split) for c in calls) if split != "foreign" else calls == [], (split, calls)
    calls.clear()
    for i in range(40):
        SyntheticBlur("train", (256, 256))[i]
    names = [c[0] for c in calls]
    assert names.count("colour_jitter") == 40 and "arc_kernel" in names


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


@pytest.mark.parametrize("split", ["eval", "train"])
@pytest.mark.parametrize("task", ["motion-deblur", "defocus-deblur"])
def test_blur_does_not_shift_the_image(task, split):
    """The sharp frame is the middle of the exposure: a blurred square keeps its centre
    (albumentations' MotionBlur shifts kernels by default, up to 6 px here)."""
    from edgeir.data.synthetic import degrade

    square = np.zeros((121, 121, 3), np.uint8)
    square[55:66, 55:66] = 255
    ys, xs = np.mgrid[0:121, 0:121]
    for seed in range(40):
        out = degrade(square, _NoNoise(seed), task, split)[:, :, 0].astype(float)
        centre = ((ys * out).sum() / out.sum(), (xs * out).sum() / out.sum())
        assert np.allclose(centre, (60, 60), atol=0.1), (seed, centre)
