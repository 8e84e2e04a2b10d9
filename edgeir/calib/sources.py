"""Calibration frames for INT8: the user's own images, a video, blurred frames of a pair
set, or the synthetic ``calib`` split, as NCHW float32 in [0, 1].

Every frame goes through ``runtimes.frames.to_chw``, the function the runtime itself uses,
so INT8 ranges are measured on exactly what the deployed model will see. Crops are taken
at the export size (random, seeded) from frames at least that large; video frames are
evenly spaced. Each frame comes from a different file or video frame, so a set is never
padded with repeats, and anything short of the count asked for is an error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.fileio import atomic_path
from edgeir.models.registry import DEFAULT_TASK
from edgeir.models.size import legal_size
from edgeir.runtimes.frames import to_chw

log = logging.getLogger("edgeir")

Size = tuple[int, int]
DEFAULT_COUNT = 32
SOURCE_HELP = "calib.npz | IMAGE_DIR | VIDEO | gopro:DIR | pairs:BLUR_DIR,SHARP_DIR | synthetic"


@dataclass
class CalibrationSet:
    """``frames``: N x 3 x H x W float32 RGB in [0, 1], ready for the network;
    ``targets``: the sharp frames in the same layout where the source has them (synthetic
    blur, pair sets), which lets a PSNR budget be measured against ground truth."""

    frames: np.ndarray
    source: str
    seed: int = 0
    targets: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def size(self) -> Size:
        return int(self.frames.shape[2]), int(self.frames.shape[3])

    def batches(self, batch: int = 1, whole: bool = False) -> Iterator[np.ndarray]:
        """Batches of ``batch`` frames; ``whole`` drops a short last batch (static graphs)."""
        for start in range(0, len(self), batch):
            chunk = self.frames[start : start + batch]
            if whole and len(chunk) < batch:
                return
            yield np.ascontiguousarray(chunk)

    def split(self, held_out: int) -> tuple[CalibrationSet, CalibrationSet]:
        """(frames to calibrate on, the last ``held_out`` frames to measure on): frames
        that set the INT8 ranges would flatter the error measured on them."""
        if not 0 < held_out < len(self):
            raise EdgeIRError(
                f"expected more calibration frames than the {held_out} held out for measuring, "
                f"found {len(self)}"
            )
        keep = len(self) - held_out
        targets = self.targets
        return (
            CalibrationSet(self.frames[:keep], self.source, self.seed,
                           None if targets is None else targets[:keep]),
            CalibrationSet(self.frames[keep:], f"{self.source} (held out)", self.seed,
                           None if targets is None else targets[keep:]),
        )

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        if path.suffix != ".npz":
            raise EdgeIRError(f"expected a calibration file ending in .npz, found {path.name}")
        meta = json.dumps({"source": self.source, "seed": self.seed, "format": "NCHW float32 RGB [0,1]"})
        with atomic_path(path) as temp, open(temp, "wb") as handle:
            extra = {} if self.targets is None else {"targets": self.targets}
            np.savez(handle, frames=self.frames, meta=np.array(meta), **extra)
        return path

    @classmethod
    def load(cls, path: str | Path) -> CalibrationSet:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                frames, meta = data["frames"], json.loads(str(data["meta"]))
                targets = data["targets"] if "targets" in data.files else None
        except FileNotFoundError:
            raise EdgeIRError(f"expected a calibration file, found nothing at {path}") from None
        except (KeyError, ValueError, OSError) as exc:
            raise EdgeIRError(f"expected a calibration file written by edgeir calib, {path} is not one ({exc})") from None
        if frames.ndim != 4 or frames.shape[1] != 3 or frames.dtype != np.float32:
            raise EdgeIRError(f"expected N x 3 x H x W float32 frames in {path}, found {frames.dtype} {frames.shape}")
        if targets is not None and targets.shape != frames.shape:
            raise EdgeIRError(f"expected targets shaped like the frames in {path}, found {targets.shape}")
        return cls(frames, meta.get("source", str(path)), int(meta.get("seed", 0)), targets)


def _check_request(size: Size, count: int, task: str) -> None:
    if count < 1:
        raise EdgeIRError(f"expected at least 1 calibration frame, found -n {count}")
    if legal_size(*size, task) != tuple(size):
        legal = legal_size(*size, task)
        raise EdgeIRError(
            f"expected a legal calibration size for {task} (the export size), found "
            f"{size[0]}x{size[1]}: use {legal[0]}x{legal[1]}"
        )


def _window(shape: tuple[int, ...], size: Size, rng: np.random.Generator, name: str) -> tuple[slice, slice]:
    h, w = shape[:2]
    if h < size[0] or w < size[1]:
        raise EdgeIRError(
            f"expected frames of at least {size[0]}x{size[1]} (the calibration size), found "
            f"{h}x{w} in {name}: calibrate at a smaller --size or use larger frames"
        )
    y, x = int(rng.integers(0, h - size[0] + 1)), int(rng.integers(0, w - size[1] + 1))
    return slice(y, y + size[0]), slice(x, x + size[1])


Sample = tuple[str, np.ndarray, "np.ndarray | None"]
"""(name for messages, frame, its sharp target or None)."""


def _from_frames(samples: Iterator[Sample], size: Size, count: int, seed: int,
                 color: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Frames (and targets, when every sample has one), each cropped at one seeded window."""
    rng = np.random.default_rng(seed)
    frames, targets = [], []
    for name, frame, target in samples:
        if len(frames) == count:
            break
        rows, cols = _window(frame.shape, size, rng, name)
        frames.append(to_chw(frame, color)[0][:, rows, cols])
        targets.append(None if target is None else to_chw(target, color)[0][:, rows, cols])
    stacked = np.stack(frames) if frames else np.empty((0, 3, *size), np.float32)
    paired = bool(targets) and all(t is not None for t in targets)
    return stacked, np.stack(targets) if paired else None


def from_images(folder: str | Path, size: Size, count: int = DEFAULT_COUNT, seed: int = 0,
                color: str = "rgb", task: str = DEFAULT_TASK) -> CalibrationSet:
    """One random crop from each of ``count`` images of ``folder`` (sorted, then a seeded
    choice); unreadable files are skipped and named, and too few readable ones are an error."""
    from edgeir.data.io import is_image, read_image

    _check_request(size, count, task)
    folder = Path(folder)
    if not folder.is_dir():
        raise EdgeIRError(f"expected a folder of images, found nothing at {folder}")
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_image(p))
    order = np.random.default_rng(seed).permutation(len(files))
    skipped: list[str] = []

    def readable() -> Iterator[tuple[str, np.ndarray]]:
        for index in order:
            try:
                yield files[index].name, read_image(files[index]), None
            except EdgeIRError as exc:
                skipped.append(files[index].name)
                log.warning("calibration: skipped %s (%s)", files[index].name, exc)

    frames, _ = _from_frames(readable(), size, count, seed, color)
    if len(frames) < count:
        unread = f" ({len(skipped)} unreadable: {', '.join(skipped[:3])})" if skipped else ""
        raise EdgeIRError(
            f"expected at least {count} readable images in {folder} (one crop each), found "
            f"{len(frames)}{unread}: add images or lower --calib-frames"
        )
    return CalibrationSet(frames, f"images {folder}", seed)


def from_video(path: str | Path, size: Size, count: int = DEFAULT_COUNT, seed: int = 0,
               color: str = "rgb", task: str = DEFAULT_TASK) -> CalibrationSet:
    """``count`` evenly spaced frames of a video, one random crop each."""
    from edgeir.data.video import VideoReader

    _check_request(size, count, task)
    path = Path(path)
    if not path.is_file():
        raise EdgeIRError(f"expected a video file, found nothing at {path}")
    with VideoReader(path) as reader:
        total = reader.frame_count
    if total <= 0:  # containers without a frame count: count by reading
        with VideoReader(path) as reader:
            total = sum(1 for _ in reader)
    if total < count:
        raise EdgeIRError(f"expected at least {count} frames in {path}, found {total}: lower --calib-frames")
    wanted = set(np.linspace(0, total - 1, count).round().astype(int).tolist())

    def spaced() -> Iterator[Sample]:
        with VideoReader(path) as reader:
            for index, frame in enumerate(reader):
                if index in wanted:
                    yield f"{path.name} frame {index}", frame, None

    frames, _ = _from_frames(spaced(), size, count, seed, color)
    if len(frames) < count:
        raise EdgeIRError(f"expected {count} frames from {path}, could decode {len(frames)}")
    return CalibrationSet(frames, f"video {path} ({count} of {total} frames)", seed)


def from_pairs(spec: str, size: Size, count: int = DEFAULT_COUNT, seed: int = 0,
               color: str = "rgb", task: str = DEFAULT_TASK) -> CalibrationSet:
    """The blurred frames of a pair set (``gopro:DIR`` or ``pairs:BLUR_DIR,SHARP_DIR``),
    with their sharp frames as targets."""
    from edgeir.data.pairs import read_pair
    from edgeir.data.sources import FilePairs, open_pairs

    _check_request(size, count, task)
    pairs = open_pairs(spec, "calib", size, task)
    if not isinstance(pairs, FilePairs):
        raise EdgeIRError(f"expected gopro:DIR or pairs:BLUR_DIR,SHARP_DIR, found {spec!r}")
    files = [pairs.files[i] for i in np.random.default_rng(seed).permutation(len(pairs.files))]
    frames, targets = _from_frames(((f.name, *read_pair(f)) for f in files), size, count, seed, color)
    if len(frames) < count:
        raise EdgeIRError(f"expected at least {count} blurred frames in {spec}, found {len(frames)}: lower "
                          "--calib-frames")
    return CalibrationSet(frames, f"blurred frames of {spec}", seed, targets)


def from_synthetic(size: Size, count: int = DEFAULT_COUNT, seed: int = 0, color: str = "rgb",
                   task: str = DEFAULT_TASK) -> CalibrationSet:
    """The synthetic source's ``calib`` split (photographs and seeds used by no other
    split): activations of real blurred input, no download."""
    from edgeir.data.synthetic import SyntheticBlur

    _check_request(size, count, task)
    synthetic = SyntheticBlur("calib", size, length=count, seed=seed, task=_synthetic_task(task))
    pairs = list(synthetic)
    frames = np.stack([to_chw(blurred, color)[0] for blurred, _ in pairs])
    targets = np.stack([to_chw(sharp, color)[0] for _, sharp in pairs])
    return CalibrationSet(frames, f"synthetic calib split ({count} frames)", seed, targets)


def _synthetic_task(task: str) -> str:
    """Synthetic data is blur; for the other tasks it still gives natural image statistics."""
    from edgeir.data.synthetic import BLUR_KINDS

    return task if task in BLUR_KINDS else DEFAULT_TASK


def check_source(spec: str | Path) -> None:
    """Refuse a ``--calib`` source that cannot be opened, without reading a frame: a typo
    in a path costs a second, not an export."""
    from edgeir.data.io import is_video

    text = str(spec)
    if text == "synthetic":
        return
    if text.startswith(("gopro:", "pairs:")):
        kind, _, rest = text.partition(":")
        folders = rest.split(",") if kind == "pairs" else [rest]
        if not rest or (kind == "pairs" and len(folders) != 2):
            raise EdgeIRError(f"expected gopro:DIR or pairs:BLUR_DIR,SHARP_DIR, found {text!r}")
        for folder in folders:
            if not Path(folder).is_dir():
                raise EdgeIRError(f"expected a folder of frames for --calib {text}, found nothing at {folder}")
        return
    path = Path(text)
    if path.suffix == ".npz" and not path.is_file():
        raise EdgeIRError(f"expected a calibration file, found nothing at {path}")
    if path.suffix == ".npz" or path.is_dir() or (path.is_file() and is_video(path)):
        return
    found = "nothing" if not path.exists() else "a file that is neither a video nor .npz"
    raise EdgeIRError(f"expected a calibration source ({SOURCE_HELP}), found {found} at {text!r}")


def open_calibration(spec: str | Path, size: Size, count: int = DEFAULT_COUNT, seed: int = 0,
                     color: str = "rgb", task: str = DEFAULT_TASK) -> CalibrationSet:
    """Any source by one string (``--calib``): a saved ``.npz``, an image folder, a
    video, a pair set, or ``synthetic``."""
    from edgeir.data.io import is_video

    text = str(spec)
    if text == "synthetic":
        return from_synthetic(size, count, seed, color, task)
    if text.startswith(("gopro:", "pairs:")):
        return from_pairs(text, size, count, seed, color, task)
    path = Path(text)
    if path.suffix == ".npz":
        loaded = CalibrationSet.load(path)
        if loaded.size != tuple(size):
            raise EdgeIRError(
                f"expected calibration frames of {size[0]}x{size[1]} (the calibration size), "
                f"found {loaded.size[0]}x{loaded.size[1]} in {path}: re-run edgeir calib --size"
            )
        return loaded
    if path.is_dir():
        return from_images(path, size, count, seed, color, task)
    if path.is_file() and is_video(path):
        return from_video(path, size, count, seed, color, task)
    raise EdgeIRError(f"expected a calibration source ({SOURCE_HELP}), found {text!r}")
