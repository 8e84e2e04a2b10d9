"""``Restorer``: frames in, restored frames out, on any runtime.

Made for a camera loop: any frame size is made legal (pad up, crop back), frames larger
than ``tile`` are restored as overlapping tiles blended with linear ramps, tiles and
frames are batched, and one Restorer may be shared by several threads (it holds no
per-call state; ONNX Runtime sessions and inference-mode torch modules are thread-safe).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.models.registry import SIZE_MULTIPLE
from edgeir.models.size import legal_size_for, min_side
from edgeir.runtimes import Runtime, load
from edgeir.runtimes.frames import FrameFormat, from_chw, pad_to, to_chw
from edgeir.runtimes.memory import check_fits

Size = tuple[int, int]


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, tile - overlap))
    return starts + [length - tile]


def _ramp(tile: int, overlap: int, blend_start: bool, blend_end: bool) -> np.ndarray:
    weight = np.ones(tile, dtype=np.float32)
    if overlap > 0:
        rise = np.arange(1, overlap + 1, dtype=np.float32) / (overlap + 1)
        if blend_start:
            weight[:overlap] = rise
        if blend_end:
            weight[-overlap:] = rise[::-1]
    return weight


class Restorer:
    def __init__(
        self,
        runtime_or_path: Runtime | str | Path | Any,
        tile: int | Size | None = None,
        overlap: int = 32,
        batch: int = 1,
        color: str = "rgb",
        device: str | None = None,
        value_range: float = 1.0,
    ) -> None:
        """``value_range`` is what full white is in float frames (1.0; 255.0 for float
        frames holding 0..255): outputs come back in the same range."""
        self.runtime = runtime_or_path if isinstance(runtime_or_path, Runtime) else load(
            runtime_or_path, device
        )
        info = self.runtime.info
        self.min_side = min_side(info.dilations)
        self.shapes = info.shapes
        self.color = color
        if not (isinstance(value_range, (int, float)) and np.isfinite(value_range) and value_range > 0):
            raise EdgeIRError(f"expected a positive value_range (1.0, or 255.0 for 0..255 float frames), "
                              f"found {value_range!r}")
        self.value_range = float(value_range)
        if batch < 1:
            raise EdgeIRError(f"expected a batch of at least 1, found {batch}")
        limit = self.runtime.max_batch
        if limit is not None and batch != limit:
            raise EdgeIRError(f"expected batch={limit} for this static model, found batch={batch}")
        self.batch = batch
        self.tile = self._check_tile(tile)
        if self.tile is not None and not 0 <= overlap < min(self.tile):
            raise EdgeIRError(f"expected 0 <= overlap < tile ({min(self.tile)}), found {overlap}")
        self.overlap = overlap

    def _check_tile(self, tile: int | Size | None) -> Size | None:
        if tile is None:
            return None
        size = (tile, tile) if isinstance(tile, int) else tuple(tile)
        legal = legal_size_for(size[0], size[1], self.runtime.info.dilations)
        if legal != size:
            raise EdgeIRError(
                f"expected a legal tile (sides multiples of {SIZE_MULTIPLE}, at least "
                f"{self.min_side}), found {size[0]}x{size[1]}: use {legal[0]}x{legal[1]}"
            )
        if self.shapes is not None:
            self.shapes.check(self.batch if self.shapes.static else 1, *size)
        return size

    def _padded_size(self, h: int, w: int) -> Size:
        """The size a whole h x w frame runs at, or raise when it must be tiled."""
        target = list(legal_size_for(h, w, self.runtime.info.dilations))
        if self.shapes is not None:
            if self.shapes.static:
                if h <= self.shapes.opt[0] and w <= self.shapes.opt[1]:
                    return self.shapes.opt
                raise EdgeIRError(
                    f"expected frames up to the static {self.shapes.opt[0]}x{self.shapes.opt[1]} "
                    f"this model takes, found {h}x{w}: pass tile={self.shapes.opt}"
                )
            if self.shapes.sizes:
                fitting = self.shapes.fitting(h, w)
                if fitting is None:
                    raise EdgeIRError(
                        f"expected frames that fit one of the sizes this model takes "
                        f"({self.shapes.describe()}), found {h}x{w}: pass tile= a listed size"
                    )
                return fitting
            target = [max(t, m) for t, m in zip(target, self.shapes.min)]
            if target[0] > self.shapes.max[0] or target[1] > self.shapes.max[1]:
                raise EdgeIRError(
                    f"expected frames up to {self.shapes.max[0]}x{self.shapes.max[1]} for this "
                    f"model, found {h}x{w}: pass tile= (e.g. tile=512) to restore it in tiles"
                )
        return target[0], target[1]

    def _batches(self, tensors: list[np.ndarray]) -> list[tuple[np.ndarray, int]]:
        """The arrays the runtime is called with, each with how many of its items are real
        (a static batch is filled up with copies of the last one)."""
        batches = []
        for i in range(0, len(tensors), self.batch):
            group = tensors[i : i + self.batch]
            real = len(group)
            if self.runtime.max_batch is not None and len(group) < self.runtime.max_batch:
                group = group + [group[-1]] * (self.runtime.max_batch - len(group))
            batches.append((np.stack(group).astype(np.float32, copy=False), real))
        return batches

    def _run_batches(self, tensors: list[np.ndarray]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        if tensors:  # every batch has one shape: estimate once, before any is stacked or run
            _, h, w = tensors[0].shape
            check_fits(self.runtime.max_batch or min(self.batch, len(tensors)), h, w, self.runtime.info.device)
        for batch, real in self._batches(tensors):
            out.extend(self.runtime(batch)[:real])
        return out

    def _whole_inputs(self, images: list[np.ndarray]) -> list[np.ndarray]:
        _, h, w = images[0].shape
        ph, pw = self._padded_size(h, w)
        return [pad_to(img, ph, pw) for img in images]

    def _restore_whole(self, images: list[np.ndarray]) -> list[np.ndarray]:
        _, h, w = images[0].shape
        restored = self._run_batches(self._whole_inputs(images))
        return [r[:, :h, :w] for r in restored]

    def _tiling(self, image: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """The padded image and the top-left corner of every tile."""
        th, tw = self.tile
        _, h, w = image.shape
        padded = pad_to(image, max(h, th), max(w, tw))
        _, ph, pw = padded.shape
        ys, xs = _starts(ph, th, self.overlap), _starts(pw, tw, self.overlap)
        return padded, [(y, x) for y in ys for x in xs]

    def _restore_tiled(self, image: np.ndarray) -> np.ndarray:
        th, tw = self.tile
        _, h, w = image.shape
        padded, boxes = self._tiling(image)
        _, ph, pw = padded.shape
        tiles = self._run_batches([padded[:, y : y + th, x : x + tw] for y, x in boxes])
        total = np.zeros_like(padded)
        weights = np.zeros((1, ph, pw), dtype=np.float32)
        for (y, x), tile in zip(boxes, tiles):
            wy = _ramp(th, self.overlap, y > 0, y + th < ph)
            wx = _ramp(tw, self.overlap, x > 0, x + tw < pw)
            weight = wy[:, None] * wx[None, :]
            total[:, y : y + th, x : x + tw] += tile * weight
            weights[:, y : y + th, x : x + tw] += weight
        return (total / weights)[:, :h, :w]

    def network_inputs(self, frame: np.ndarray) -> list[np.ndarray]:
        """The N x 3 x H x W arrays ``restore(frame)`` hands the runtime (padded, tiled,
        batched): what a device-only timing of that frame has to run."""
        image = to_chw(frame, self.color, self.value_range)[0]
        _, h, w = image.shape
        if self._needs_tiles(h, w):
            th, tw = self.tile
            padded, boxes = self._tiling(image)
            tensors = [padded[:, y : y + th, x : x + tw] for y, x in boxes]
        else:
            tensors = self._whole_inputs([image])
        return [batch for batch, _ in self._batches(tensors)]

    def _needs_tiles(self, h: int, w: int) -> bool:
        return self.tile is not None and (h > self.tile[0] or w > self.tile[1])

    def restore(self, frame: np.ndarray) -> np.ndarray:
        """One frame; returns the restored frame in the frame's own dtype and layout."""
        return self.restore_batch([frame])[0]

    def restore_batch(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Frames of one size, run ``batch`` at a time."""
        if len(frames) == 0:
            return []
        converted = [to_chw(f, self.color, self.value_range) for f in frames]
        shapes = {c[0].shape for c in converted}
        if len(shapes) > 1:
            raise EdgeIRError(f"expected frames of one size in a batch, found {sorted(shapes)}")
        images = [c[0] for c in converted]
        _, h, w = images[0].shape
        if self._needs_tiles(h, w):
            restored = [self._restore_tiled(img) for img in images]
        else:
            restored = self._restore_whole(images)
        return [from_chw(r, fmt, alpha) for r, (_, fmt, alpha) in zip(restored, converted)]

    def close(self) -> None:
        self.runtime.close()

    def __enter__(self) -> Restorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def info(self) -> dict[str, Any]:
        return {
            **self.runtime.info.to_dict(),
            "tile": self.tile,
            "overlap": self.overlap,
            "batch": self.batch,
            "color": self.color,
        }


__all__ = ["FrameFormat", "Restorer"]
