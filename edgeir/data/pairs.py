"""Blur/sharp pairs from folders: two folders matched by file name, or the GoPro layout
(``SCENE/blur/*.png`` with ``SCENE/sharp/*.png``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeir.data.io import is_image, read_image
from edgeir.errors import EdgeIRError


@dataclass(frozen=True)
class PairFiles:
    blur: Path
    sharp: Path

    @property
    def name(self) -> str:
        return f"{self.blur.parent.parent.name}/{self.blur.name}" if self.blur.parent.name == "blur" else self.blur.name


def _images(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise EdgeIRError(f"expected a folder of images, found nothing at {folder}")
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and is_image(p)}


def folder_pairs(blur_dir: str | Path, sharp_dir: str | Path) -> list[PairFiles]:
    """Pairs matched by file name; a file on one side only is an error naming it."""
    blur, sharp = _images(Path(blur_dir)), _images(Path(sharp_dir))
    for name in blur:
        if name not in sharp:
            raise EdgeIRError(f"expected a sharp image for {Path(blur_dir) / name}, found none in {sharp_dir}")
    for name in sharp:
        if name not in blur:
            raise EdgeIRError(f"expected a blurred image for {Path(sharp_dir) / name}, found none in {blur_dir}")
    if not blur:
        raise EdgeIRError(f"expected images in {blur_dir}, found none")
    return [PairFiles(blur[n], sharp[n]) for n in sorted(blur)]


def gopro_pairs(root: str | Path) -> list[PairFiles]:
    """Every ``SCENE/blur`` + ``SCENE/sharp`` below ``root`` (GoPro's train/test folders,
    or one scene)."""
    root = Path(root)
    if not root.is_dir():
        raise EdgeIRError(f"expected a GoPro folder, found nothing at {root}")
    scenes = sorted({p.parent for p in root.rglob("blur") if p.is_dir() and (p.parent / "sharp").is_dir()})
    if not scenes:
        raise EdgeIRError(f"expected SCENE/blur and SCENE/sharp folders below {root}, found none")
    return [pair for scene in scenes for pair in folder_pairs(scene / "blur", scene / "sharp")]


def read_pair(pair: PairFiles) -> tuple[np.ndarray, np.ndarray]:
    """(blurred, sharp) as RGB arrays of one size; a size mismatch names the files."""
    blur, sharp = read_image(pair.blur), read_image(pair.sharp)
    if blur.shape[:2] != sharp.shape[:2]:
        raise EdgeIRError(
            f"expected {pair.blur} and {pair.sharp} to have one size, found "
            f"{blur.shape[1]}x{blur.shape[0]} and {sharp.shape[1]}x{sharp.shape[0]}"
        )
    return blur, sharp
