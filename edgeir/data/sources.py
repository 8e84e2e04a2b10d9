"""``--data`` specs, one parser for train, calib and bench: ``synthetic``,
``gopro:DIR`` and ``pairs:BLUR_DIR,SHARP_DIR``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edgeir.data.pairs import PairFiles, folder_pairs, gopro_pairs, read_pair
from edgeir.data.synthetic import Pair, SyntheticBlur
from edgeir.errors import EdgeIRError
from edgeir.models.registry import DEFAULT_TASK

DATA_HELP = "synthetic | gopro:DIR | pairs:BLUR_DIR,SHARP_DIR"


@dataclass
class FilePairs(Sequence[Pair]):
    """Pairs read from disk on demand, as H x W x 3 uint8 RGB."""

    files: list[PairFiles]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> Pair:  # type: ignore[override]
        blur, sharp = read_pair(self.files[index])
        return _rgb8(blur, self.files[index].blur), _rgb8(sharp, self.files[index].sharp)


def _rgb8(image: np.ndarray, path) -> np.ndarray:
    if image.dtype == np.uint16:
        image = np.rint(image / 257.0).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def open_pairs(
    spec: str, split: str, size: tuple[int, int] = (256, 256), task: str = DEFAULT_TASK,
    length: int | None = None, seed: int = 0,
) -> Sequence[Pair]:
    """The (blurred, sharp) pairs a ``--data`` spec names. ``split`` and ``size`` apply
    to ``synthetic``; folders are used whole, at their own size."""
    kind, _, rest = spec.partition(":")
    if kind == "synthetic" and not rest:
        return SyntheticBlur(split, size, length, seed, task)
    if kind == "gopro" and rest:
        return FilePairs(gopro_pairs(rest))
    if kind == "pairs" and rest.count(",") == 1:
        blur_dir, sharp_dir = rest.split(",")
        return FilePairs(folder_pairs(blur_dir, sharp_dir))
    raise EdgeIRError(f"expected --data {DATA_HELP}, found {spec!r}")
