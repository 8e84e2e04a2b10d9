"""Seeded synthetic blur: sharp/blurred pairs with no download.

Sharp images are photographs that ship inside installed packages (scikit-image's and
matplotlib's sample data) and procedural textures (shapes, lines and text drawn with
OpenCV). Degradations: linear motion blur (albumentations ``MotionBlur``), curved motion
blur (a random camera-shake trajectory rasterised here, because the augmentation
libraries offer only straight kernels), defocus (albumentations ``Defocus``), then mild
Gaussian noise and 8-bit rounding.

The splits use disjoint photographs and disjoint texture seeds, so no frame serves two
purposes: ``train`` for training, ``calib`` for INT8 calibration, ``eval`` for the
benchmark and for validation during training.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from edgeir.errors import EdgeIRError

Pair = tuple[np.ndarray, np.ndarray]
"""(blurred, sharp), H x W x 3 uint8 RGB."""

SPLITS = ("train", "calib", "eval")


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, name)()
        return image[0] if isinstance(image, tuple) else image

    return load


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import matplotlib

        from edgeir.data.io import read_image

        return read_image(os.path.join(matplotlib.get_data_path(), "sample_data", filename))

    return load


PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    **{n: _skimage(n) for n in (
        "astronaut", "immunohistochemistry", "retina", "stereo_motorcycle", "hubble_deep_field",
        "colorwheel", "brick", "grass", "gravel", "clock", "coins", "page", "text",
        "chelsea", "moon", "coffee", "rocket", "camera",
    )},
    "grace_hopper": _matplotlib("grace_hopper.jpg"),
    "minduka": _matplotlib("Minduka_Present_Blue_Pack.png"),
}

SPLIT_PHOTOS = {
    "train": (
        "astronaut", "immunohistochemistry", "retina", "stereo_motorcycle", "hubble_deep_field",
        "colorwheel", "brick", "grass", "gravel", "clock", "coins", "page", "text", "minduka",
    ),
    "calib": ("chelsea", "moon"),
    "eval": ("coffee", "rocket", "grace_hopper", "camera"),
}
SPLIT_SEEDS = {"train": 0, "calib": 1, "eval": 2}
DEFAULT_LENGTHS = {"train": 100_000, "calib": 64, "eval": 24}
BLUR_KINDS = {
    "motion-deblur": {"linear": 0.4, "curved": 0.45, "defocus": 0.15},
    "defocus-deblur": {"linear": 0.1, "curved": 0.1, "defocus": 0.8},
}
LINEAR_SIZES = (5, 21)
CURVED_SIZES = (7, 21)
DEFOCUS_RADII = (1, 5)
"""Ranges (inclusive) of blur kernel sides and defocus radii, in pixels of the frame."""
MAX_KERNEL = max(LINEAR_SIZES[1], CURVED_SIZES[1], 2 * DEFOCUS_RADII[1] + 1)
MARGIN = MAX_KERNEL // 2 + 1


@lru_cache(maxsize=None)
def photo(name: str) -> np.ndarray:
    """A sample photograph as H x W x 3 uint8 RGB, at least 320 pixels on its short side."""
    import cv2

    image = PHOTOS[name]()
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.dtype != np.uint8:
        image = (image / image.max() * 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    image = np.ascontiguousarray(image[:, :, :3])
    short = min(image.shape[:2])
    if short < 320:
        scale = 320 / short
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
    return image


def texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Procedural sharp content: a colour gradient with random shapes, lines and text,
    i.e. the hard edges blur destroys."""
    import cv2

    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    start, end = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    angle = rng.uniform(0, np.pi)
    t = (xs * np.cos(angle) + ys * np.sin(angle)) / (height + width)
    image = (start + (end - start) * t[..., None]).clip(0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(12, 40))):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(0, 4)
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        if kind == 0:
            cv2.rectangle(image, p1, p2, color, int(rng.choice([-1, 1, 2, 4])))
        elif kind == 1:
            cv2.circle(image, p1, int(rng.integers(3, max(4, min(height, width) // 4))), color,
                       int(rng.choice([-1, 1, 3])), cv2.LINE_AA)
        elif kind == 2:
            cv2.line(image, p1, p2, color, int(rng.integers(1, 5)), cv2.LINE_AA)
        else:
            cv2.putText(image, "edgeir 0123"[: int(rng.integers(3, 12))], p1,
                        cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.4, 2.0)), color,
                        int(rng.integers(1, 3)), cv2.LINE_AA)
    return image


def curved_kernel(rng: np.random.Generator, size: int) -> np.ndarray:
    """A camera-shake trajectory (random walk with momentum) rasterised with bilinear
    splatting into a normalised size x size kernel."""
    steps = 96
    velocity = rng.normal(size=2)
    velocity /= np.linalg.norm(velocity) + 1e-8
    points = np.zeros((steps, 2))
    for i in range(1, steps):
        velocity = 0.85 * velocity + 0.35 * rng.normal(size=2)
        points[i] = points[i - 1] + velocity
    points -= points.mean(axis=0)
    extent = np.abs(points).max() + 1e-8
    length = rng.uniform(0.3, 1.0) * (size // 2 - 1)
    points = points / extent * length + size // 2
    kernel = np.zeros((size, size), np.float32)
    for y, x in points:
        y0, x0 = int(np.floor(y)), int(np.floor(x))
        fy, fx = y - y0, x - x0
        for dy, dx, w in ((0, 0, (1 - fy) * (1 - fx)), (1, 0, fy * (1 - fx)),
                          (0, 1, (1 - fy) * fx), (1, 1, fy * fx)):
            if 0 <= y0 + dy < size and 0 <= x0 + dx < size:
                kernel[y0 + dy, x0 + dx] += w
    return kernel / kernel.sum()


def degrade(sharp: np.ndarray, rng: np.random.Generator, task: str) -> np.ndarray:
    """Blur, noise and 8-bit rounding of an H x W x 3 uint8 image (same size)."""
    import albumentations as A
    import cv2

    weights = BLUR_KINDS[task]
    kind = rng.choice(list(weights), p=list(weights.values()))
    seed = int(rng.integers(0, 2**31))
    if kind == "linear":
        size = int(rng.choice(np.arange(LINEAR_SIZES[0], LINEAR_SIZES[1] + 1, 2)))
        # Centred, symmetric kernels: the sharp frame is the middle of the exposure (as in
        # GoPro), so a pair must not differ by a shift the network cannot know.
        blur = A.MotionBlur(blur_limit=(size, size), allow_shifted=False, direction_range=(0.0, 0.0), p=1.0)
        blur.set_random_seed(seed)
        blurred = blur(image=sharp)["image"].astype(np.float32)
    elif kind == "curved":
        kernel = curved_kernel(rng, int(rng.choice(np.arange(CURVED_SIZES[0], CURVED_SIZES[1] + 1, 2))))
        blurred = cv2.filter2D(sharp.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT)
    else:
        radius = int(rng.integers(DEFOCUS_RADII[0], DEFOCUS_RADII[1] + 1))
        blur = A.Defocus(radius=(radius, radius), alias_blur=(0.1, 0.4), p=1.0)
        blur.set_random_seed(seed)
        blurred = blur(image=sharp)["image"].astype(np.float32)
    noisy = blurred + rng.normal(0, rng.uniform(0, 2.5), blurred.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


@dataclass
class SyntheticBlur(Sequence[Pair]):
    """Item ``i`` of a split is the same pair on every machine (seeded by split, i and
    ``seed``); items are made on demand."""

    split: str = "train"
    size: tuple[int, int] = (256, 256)
    length: int | None = None
    seed: int = 0
    task: str = "motion-deblur"
    photo_fraction: float = 0.6

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise EdgeIRError(f"expected a split among {', '.join(SPLITS)}, found {self.split!r}")
        if self.task not in BLUR_KINDS:
            raise EdgeIRError(
                f"expected a deblurring task ({', '.join(BLUR_KINDS)}) for synthetic blur data, "
                f"found {self.task}: use pairs:BLUR_DIR,SHARP_DIR with your own data"
            )
        if self.length is None:
            self.length = DEFAULT_LENGTHS[self.split]

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> Pair:  # type: ignore[override]
        if not 0 <= index < self.length:
            raise IndexError(index)
        rng = np.random.default_rng([SPLIT_SEEDS[self.split], self.seed, index])
        h, w = self.size
        big_h, big_w = h + 2 * MARGIN, w + 2 * MARGIN
        photos = SPLIT_PHOTOS[self.split]
        if rng.random() < self.photo_fraction:
            source = photo(photos[int(rng.integers(len(photos)))])
            if source.shape[0] < big_h or source.shape[1] < big_w:
                source = _pad_reflect(source, big_h, big_w)
            y = int(rng.integers(0, source.shape[0] - big_h + 1))
            x = int(rng.integers(0, source.shape[1] - big_w + 1))
            sharp = np.ascontiguousarray(source[y : y + big_h, x : x + big_w])
        else:
            sharp = texture(rng, big_h, big_w)
        blurred = degrade(sharp, rng, self.task)
        crop = (slice(MARGIN, MARGIN + h), slice(MARGIN, MARGIN + w))
        return np.ascontiguousarray(blurred[crop]), np.ascontiguousarray(sharp[crop])


def _pad_reflect(image: np.ndarray, height: int, width: int) -> np.ndarray:
    pad_h, pad_w = max(0, height - image.shape[0]), max(0, width - image.shape[1])
    return np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
