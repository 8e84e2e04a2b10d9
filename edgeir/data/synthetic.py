"""Seeded synthetic blur: sharp/blurred pairs with no download.

Sharp images are photographs that ship inside installed packages (scikit-image's,
matplotlib's and scikit-learn's sample data) and procedural textures (shapes, lines and text drawn with
OpenCV). Degradations: linear motion blur (albumentations ``MotionBlur``), curved motion
blur (a random camera-shake trajectory rasterised here, because the augmentation
libraries offer only straight kernels), defocus (albumentations ``Defocus``), then mild
Gaussian noise and 8-bit rounding.

The splits use disjoint photographs and disjoint texture seeds, so no frame serves two
purposes: ``train`` for training, ``calib`` for INT8 calibration, ``eval`` for the
benchmark and for validation during training. ``train`` alone adds what keeps a short run
from memorising its small pool: colour jitter of the sharp image (channel permutations,
per-channel gains, hue and saturation, grayscale), circular-arc motion kernels and JPEG.

``foreign`` is a second held-out set that shares neither images nor a generator with
training: other photographs (scikit-learn's two, microscopy, logos) and colour-mapped terrain, scenes from another procedural
generator (overlapping shaded polygons and stripes), zig-zag motion kernels drawn as
polylines and Gaussian defocus, with shot noise. Weights are shipped only if they also
help there (``benchmarks/demo_weights.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.models.registry import DEFAULT_TASK

Pair = tuple[np.ndarray, np.ndarray]
"""(blurred, sharp), H x W x 3 uint8 RGB."""

SPLITS = ("train", "calib", "eval", "foreign")


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
    **{n: _skimage(n) for n in ("cell", "microaneurysms", "shepp_logan_phantom", "logo")},
    "matplotlib_logo": _matplotlib("logo2.png"),
    "terrain": lambda: _terrain(),
    "china": lambda: _scikit_learn("china.jpg"),
    "flower": lambda: _scikit_learn("flower.jpg"),
}


def _scikit_learn(filename: str) -> np.ndarray:
    """The two colour photographs scikit-learn ships (``load_sample_image``)."""
    from sklearn.datasets import load_sample_image

    return load_sample_image(filename)


def _terrain() -> np.ndarray:
    """matplotlib's sample elevation model, hill-shaded in colour: a landscape-like image."""
    import matplotlib
    from matplotlib.colors import LightSource

    with np.load(os.path.join(matplotlib.get_data_path(), "sample_data", "jacksboro_fault_dem.npz")) as data:
        elevation = data["elevation"].astype(float)
    shaded = LightSource(azdeg=315, altdeg=45).shade(elevation, cmap=matplotlib.colormaps["gist_earth"],
                                                     blend_mode="overlay", vert_exag=0.05)
    return np.rint(shaded[:, :, :3] * 255).astype(np.uint8)

SPLIT_PHOTOS = {
    "train": (
        "astronaut", "immunohistochemistry", "retina", "stereo_motorcycle", "hubble_deep_field",
        "colorwheel", "brick", "grass", "gravel", "clock", "coins", "page", "text", "minduka",
    ),
    "calib": ("chelsea", "moon"),
    "eval": ("coffee", "rocket", "grace_hopper", "camera"),
    "foreign": ("china", "flower", "terrain", "cell", "microaneurysms", "shepp_logan_phantom", "logo",
                "matplotlib_logo"),
}
SPLIT_SEEDS = {"train": 0, "calib": 1, "eval": 2, "foreign": 3}
DEFAULT_LENGTHS = {"train": 100_000, "calib": 64, "eval": 24, "foreign": 24}
BLUR_KINDS = {
    "motion-deblur": {"linear": 0.4, "curved": 0.45, "defocus": 0.15},
    "defocus-deblur": {"linear": 0.1, "curved": 0.1, "defocus": 0.8},
}
TRAIN_KINDS = {
    "motion-deblur": {"arc": 0.25, "slight": 0.1, "still": 0.05, "long": 0.1},
    "defocus-deblur": {"arc": 0.05, "slight": 0.1, "still": 0.05, "long": 0.05},
}
"""Kinds added to ``BLUR_KINDS`` in the ``train`` split only (the ``calib`` and ``eval``
frames stay as they were, so figures stay comparable): circular-arc kernels; ``slight``
shake (a trajectory of 1 or 2 pixels) and ``still`` frames (noise and JPEG, no blur), so that
the network learns to leave an almost sharp frame alone instead of sharpening it into
ringing; ``long`` shake (23 to 31 pixels), heavier than any other kernel, so that a heavy
blur is not met for the first time at inference."""
SLIGHT_SIZES = (5, 7)
LONG_SIZES = (23, 31)
JPEG_CHANCE = 0.3
JPEG_QUALITY = (60, 95)
LINEAR_SIZES = (5, 21)
CURVED_SIZES = (7, 21)
DEFOCUS_RADII = (1, 5)
"""Ranges (inclusive) of blur kernel sides and defocus radii, in pixels of the frame."""
MAX_KERNEL = max(LINEAR_SIZES[1], CURVED_SIZES[1], 2 * DEFOCUS_RADII[1] + 1)
MARGIN = MAX_KERNEL // 2 + 1
TRAIN_MARGIN = LONG_SIZES[1] // 2 + 1
"""The train split's margin (its ``long`` kernels are larger); the other splits keep
``MARGIN``, so their frames stay as they were."""


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
    if image.ndim == 3 and image.shape[2] == 4:  # a logo: its transparent parts on white
        alpha = image[:, :, 3:4].astype(np.float32) / 255.0
        image = np.rint(image[:, :, :3] * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
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
    return _splat(points, size)


def arc_kernel(rng: np.random.Generator, size: int) -> np.ndarray:
    """Motion along a circular arc (a camera turning while it pans), centred, normalised."""
    radius = rng.uniform(0.4, 3.0) * size
    sweep = rng.uniform(0.3, 1.0) * (size - 2) / radius  # the arc's length, in radians
    start = rng.uniform(0, 2 * np.pi)
    t = np.linspace(start, start + sweep, 128)
    points = np.stack([radius * np.sin(t), radius * np.cos(t)], axis=1)
    points = points - points.mean(axis=0) + size // 2
    return _splat(points, size)


def _splat(points: np.ndarray, size: int) -> np.ndarray:
    """Rasterise a trajectory into a normalised size x size kernel (bilinear splatting)."""
    kernel = np.zeros((size, size), np.float32)
    for y, x in points:
        y0, x0 = int(np.floor(y)), int(np.floor(x))
        fy, fx = y - y0, x - x0
        for dy, dx, w in ((0, 0, (1 - fy) * (1 - fx)), (1, 0, fy * (1 - fx)),
                          (0, 1, (1 - fy) * fx), (1, 1, fy * fx)):
            if 0 <= y0 + dy < size and 0 <= x0 + dx < size:
                kernel[y0 + dy, x0 + dx] += w
    return kernel / kernel.sum()


def colour_jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colours a short run cannot memorise: the sharp image with its channels permuted,
    scaled per channel, hue-rotated and desaturated, or made gray (each at random)."""
    import cv2

    out = image
    if rng.random() < 0.5:
        out = out[:, :, rng.permutation(3)]
    if rng.random() < 0.5:
        out = np.clip(out * rng.uniform(0.7, 1.3, 3), 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        hsv = cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_RGB2HSV).astype(np.int32)
        hsv[:, :, 0] = (hsv[:, :, 0] + int(rng.integers(0, 180))) % 180
        hsv[:, :, 1] = np.clip(hsv[:, :, 1] * rng.uniform(0.3, 1.3), 0, 255)
        out = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    if rng.random() < 0.1:
        out = np.repeat(cv2.cvtColor(np.ascontiguousarray(out), cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    return np.ascontiguousarray(out)


def degrade(sharp: np.ndarray, rng: np.random.Generator, task: str, split: str = "eval") -> np.ndarray:
    """Blur, noise and 8-bit rounding of an H x W x 3 uint8 image (same size); the
    ``train`` split also draws arc kernels, slight shake, unblurred frames and JPEG."""
    import albumentations as A
    import cv2

    weights = BLUR_KINDS[task]
    if split == "train":
        weights = {**weights, **TRAIN_KINDS[task]}
        weights = {k: w / sum(weights.values()) for k, w in weights.items()}
    kind = rng.choice(list(weights), p=list(weights.values()))
    seed = int(rng.integers(0, 2**31))
    if kind == "linear":
        size = int(rng.choice(np.arange(LINEAR_SIZES[0], LINEAR_SIZES[1] + 1, 2)))
        # Centred, symmetric kernels: the sharp frame is the middle of the exposure (as in
        # GoPro), so a pair must not differ by a shift the network cannot know.
        blur = A.MotionBlur(blur_limit=(size, size), allow_shifted=False, direction_range=(0.0, 0.0), p=1.0)
        blur.set_random_seed(seed)
        blurred = blur(image=sharp)["image"].astype(np.float32)
    elif kind == "still":
        blurred = sharp.astype(np.float32)
    elif kind in ("curved", "arc", "slight", "long"):
        make = arc_kernel if kind == "arc" else curved_kernel
        sizes = {"slight": SLIGHT_SIZES, "long": LONG_SIZES}.get(kind, CURVED_SIZES)
        kernel = make(rng, int(rng.choice(np.arange(sizes[0], sizes[1] + 1, 2))))
        blurred = cv2.filter2D(sharp.astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT)
    else:
        radius = int(rng.integers(DEFOCUS_RADII[0], DEFOCUS_RADII[1] + 1))
        blur = A.Defocus(radius=(radius, radius), alias_blur=(0.1, 0.4), p=1.0)
        blur.set_random_seed(seed)
        blurred = blur(image=sharp)["image"].astype(np.float32)
    noisy = blurred + rng.normal(0, rng.uniform(0, 2.5), blurred.shape)
    out = np.clip(np.rint(noisy), 0, 255).astype(np.uint8)
    if split == "train" and rng.random() < JPEG_CHANCE:
        quality = int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1))
        _, encoded = cv2.imencode(".jpg", np.ascontiguousarray(out[:, :, ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
        out = np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[:, :, ::-1])
    return out


def zigzag_kernel(rng: np.random.Generator, size: int) -> np.ndarray:
    """The ``foreign`` set's motion: 2 to 4 straight strokes at random turns, drawn as an
    anti-aliased polyline at 4x and reduced (no code shared with the training kernels)."""
    import cv2

    scale = 4
    points, angle = [np.zeros(2)], rng.uniform(0, 2 * np.pi)
    for _ in range(int(rng.integers(2, 5))):
        angle += rng.uniform(-2.0, 2.0)
        points.append(points[-1] + rng.uniform(0.2, 0.5) * size * np.array([np.cos(angle), np.sin(angle)]))
    path = np.array(points)
    path = (path - (path.min(axis=0) + path.max(axis=0)) / 2) * min(1.0, (size - 2) / (np.ptp(path, axis=0).max() + 1e-6))
    canvas = np.zeros((size * scale, size * scale), np.float32)
    drawn = np.rint((path + size / 2) * scale).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(canvas, [drawn], False, 1.0, thickness=scale, lineType=cv2.LINE_AA)
    kernel = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return kernel / kernel.sum()


def foreign_scene(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """The ``foreign`` set's procedural content: shaded polygons over sinusoidal stripes."""
    import cv2

    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    frequency, phase = rng.uniform(0.01, 0.08, 2), rng.uniform(0, 2 * np.pi, 3)
    image = np.stack([127 + 100 * np.sin(frequency[0] * xs + frequency[1] * ys + p) for p in phase], axis=2)
    for _ in range(int(rng.integers(6, 18))):
        count = int(rng.integers(3, 7))
        corners = np.stack([rng.integers(0, width, count), rng.integers(0, height, count)], axis=1)
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [corners.astype(np.int32)], 1)
        shade = rng.uniform(0, 255, 3) * (0.6 + 0.4 * (ys / height))[..., None]
        image = np.where(mask[..., None] > 0, shade, image)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def degrade_foreign(sharp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Zig-zag motion or Gaussian defocus, then shot and read noise, 8-bit rounding."""
    import cv2

    image = sharp.astype(np.float32)
    if rng.random() < 0.7:
        kernel = zigzag_kernel(rng, int(rng.choice(np.arange(7, 22, 2))))
        blurred = cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT)
    else:
        blurred = cv2.GaussianBlur(image, (0, 0), sigmaX=float(rng.uniform(1.0, 3.0)), borderType=cv2.BORDER_REFLECT)
    photons = rng.uniform(200, 2000)
    noisy = rng.poisson(np.clip(blurred, 0, None) / 255.0 * photons) / photons * 255.0
    noisy = noisy + rng.normal(0, rng.uniform(0, 1.5), noisy.shape)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


@dataclass
class SyntheticBlur(Sequence[Pair]):
    """Item ``i`` of a split is the same pair on every machine (seeded by split, i and
    ``seed``); items are made on demand."""

    split: str = "train"
    size: tuple[int, int] = (256, 256)
    length: int | None = None
    seed: int = 0
    task: str = DEFAULT_TASK
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
        margin = TRAIN_MARGIN if self.split == "train" else MARGIN
        big_h, big_w = h + 2 * margin, w + 2 * margin
        photos = SPLIT_PHOTOS[self.split]
        if rng.random() < self.photo_fraction:
            source = photo(photos[int(rng.integers(len(photos)))])
            if source.shape[0] < big_h or source.shape[1] < big_w:
                source = _pad_reflect(source, big_h, big_w)
            y = int(rng.integers(0, source.shape[0] - big_h + 1))
            x = int(rng.integers(0, source.shape[1] - big_w + 1))
            sharp = np.ascontiguousarray(source[y : y + big_h, x : x + big_w])
        elif self.split == "foreign":
            sharp = foreign_scene(rng, big_h, big_w)
        else:
            sharp = texture(rng, big_h, big_w)
        if self.split == "train":
            sharp = colour_jitter(sharp, rng)
        blurred = degrade_foreign(sharp, rng) if self.split == "foreign" else degrade(sharp, rng, self.task, self.split)
        crop = (slice(margin, margin + h), slice(margin, margin + w))
        return np.ascontiguousarray(blurred[crop]), np.ascontiguousarray(sharp[crop])


def _pad_reflect(image: np.ndarray, height: int, width: int) -> np.ndarray:
    pad_h, pad_w = max(0, height - image.shape[0]), max(0, width - image.shape[1])
    return np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
