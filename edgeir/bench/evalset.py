"""The frames a benchmark scores: ``--data`` pairs at the evaluation size.

``synthetic`` is the ``eval`` split of the synthetic source (seeds and photographs that
training and calibration never use); ``gopro:DIR`` and ``pairs:BLUR_DIR,SHARP_DIR`` are
read from disk, whole (``--full-frame``) or as the centre ``--size`` crop, so every target
is timed on frames of one size.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from edgeir.data.sources import FilePairs, open_pairs
from edgeir.errors import EdgeIRError
from edgeir.runtimes.frames import centre_crop

DEFAULT_SIZE = (256, 256)
DEFAULT_SYNTHETIC_FRAMES = 8


@dataclass
class EvalSet:
    spec: str
    pairs: Sequence[tuple[np.ndarray, np.ndarray]]
    size: tuple[int, int] | None
    """Centre crop applied to every pair; None: frames at their own size."""
    limit: int | None

    def __len__(self) -> int:
        return len(self.pairs) if self.limit is None else min(self.limit, len(self.pairs))

    def name(self, index: int) -> str:
        if isinstance(self.pairs, FilePairs):
            return self.pairs.files[index].name
        return f"{self.spec}/{index:04d}"

    def __iter__(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """(name, blurred, sharp): H x W x 3 uint8 RGB, of one size when ``size`` is set."""
        for index in range(len(self)):
            blurred, sharp = self.pairs[index]
            if self.size is not None:
                blurred, sharp = _centre(blurred, self.size, self.name(index)), _centre(sharp, self.size, self.name(index))
            yield self.name(index), blurred, sharp

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """The size of every frame, where there is one (a crop, or synthetic frames)."""
        return self.size or getattr(self.pairs, "size", None)

    def describe(self) -> str:
        size = "full frames" if self.frame_size is None else f"{self.frame_size[0]}x{self.frame_size[1]}"
        return f"{len(self)} pairs of {self.spec} at {size}"


def _centre(image: np.ndarray, size: tuple[int, int], name: str) -> np.ndarray:
    h, w = size
    if image.shape[0] < h or image.shape[1] < w:
        raise EdgeIRError(f"expected frames of at least {h}x{w} for --size, found "
                          f"{image.shape[0]}x{image.shape[1]} in {name}: use --full-frame or a smaller --size")
    return np.ascontiguousarray(centre_crop(image, size))


def open_evalset(spec: str, task: str, size: tuple[int, int] | None = DEFAULT_SIZE,
                 limit: int | None = None) -> EvalSet:
    """``size`` None means full frames (folders only: synthetic frames have no own size)."""
    if limit is not None and limit < 1:
        raise EdgeIRError(f"expected --limit of at least 1, found {limit}")
    if spec == "synthetic":
        if size is None:
            raise EdgeIRError("expected --size with --data synthetic, found --full-frame: synthetic "
                              "frames are made at the size asked for")
        length = limit or DEFAULT_SYNTHETIC_FRAMES
        return EvalSet(spec, open_pairs(spec, "eval", size, task, length=length), None, limit)
    return EvalSet(spec, open_pairs(spec, "eval", task=task), size, limit)
