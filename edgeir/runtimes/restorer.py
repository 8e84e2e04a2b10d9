"""``Restorer``: frames in, restored frames out, on any runtime.

Made for a camera loop: any frame size is made legal (pad up, crop back), frames larger
than ``tile`` are restored as overlapping tiles blended with linear ramps, tiles and
frames are batched, and one Restorer may be shared by several threads (it holds no
per-call state; ONNX Runtime sessions and inference-mode torch modules are thread-safe).
``stream`` restores a sequence (a video, a folder) with preparation, the network and
finishing of neighbouring frames overlapped.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.models.registry import SIZE_MULTIPLE
from edgeir.models.size import legal_size_for, min_side, tile_hint
from edgeir.runtimes import Runtime, load
from edgeir.runtimes.frames import FrameFormat, from_chw, pad_to, to_chw
from edgeir.runtimes.memory import check_fits

Size = tuple[int, int]
Converted = tuple[np.ndarray, FrameFormat, "np.ndarray | None"]
"""What ``to_chw`` returns: 3 x H x W float32, the frame's format, its alpha plane."""
_POLL = 0.05
"""Seconds a pipeline thread waits on a queue before it looks at the stop flag again."""


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


@dataclass
class _Job:
    """Frames of one size on their way through the network: what ``_prepare`` made of them
    and what ``_finish`` needs to turn the network's outputs back into frames."""

    formats: list[tuple[FrameFormat, np.ndarray | None]]
    height: int
    width: int
    batches: list[tuple[np.ndarray, int]]
    boxes: list[tuple[int, int]] | None = None
    """Corners of the tiles of the one frame of a tiled job; None when frames run whole."""
    padded: Size = (0, 0)
    """The tiled frame's padded size."""


_END = object()


@dataclass
class _Failure:
    """An exception on its way down the pipeline to the caller, in the place of the frame
    it stopped."""

    exc: BaseException


class _Pipeline:
    """Bounded hand-overs between the threads of one ``stream``, all of which give up as
    soon as ``stop`` is set (the caller stopped iterating, or an error ended the stream)."""

    def __init__(self) -> None:
        self.stop = threading.Event()

    def put(self, sink: queue.Queue, item: object) -> bool:
        while not self.stop.is_set():
            try:
                sink.put(item, timeout=_POLL)
                return True
            except queue.Full:
                pass
        return False

    def get(self, source: queue.Queue) -> Any:
        while not self.stop.is_set():
            try:
                return source.get(timeout=_POLL)
            except queue.Empty:
                pass
        return _END


def _stage(pipe: _Pipeline, source: queue.Queue, sink: queue.Queue, work: Callable[[Any], Any]) -> None:
    """A middle stage: ``work`` on every item, in order; an error, the end or a stop passes
    down and ends the thread."""
    try:
        while True:
            item = pipe.get(source)
            if item is _END or isinstance(item, _Failure):
                pipe.put(sink, item)
                return
            if not pipe.put(sink, work(item)):
                return
    except BaseException as exc:  # a failing runtime: the caller raises it at this frame
        pipe.put(sink, _Failure(exc))


class Restorer:
    closed: bool = False
    """Set by :meth:`close`; every later call raises ``EdgeIRError``."""

    def __init__(
        self,
        runtime_or_path: Runtime | str | Path | Any,
        tile: int | Size | None = None,
        overlap: int = 32,
        batch: int = 1,
        color: str = "rgb",
        device: str | None = None,
        value_range: float = 1.0,
        on_tiles: Callable[[int, int], None] | None = None,
    ) -> None:
        """``value_range`` is what full white is in float frames (1.0; 255.0 for float
        frames holding 0..255): outputs come back in the same range. ``on_tiles(done,
        total)`` is called as the tiles of a tiled frame run, for the progress of large
        frames (from the stream's thread when ``stream`` runs them)."""
        self.on_tiles = on_tiles
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
                    f"this model takes, found {h}x{w}: {tile_hint(self.shapes.opt)}"
                )
            if self.shapes.sizes:
                fitting = self.shapes.fitting(h, w)
                if fitting is None:
                    raise EdgeIRError(
                        f"expected frames that fit one of the sizes this model takes "
                        f"({self.shapes.describe()}), found {h}x{w}: {tile_hint(self.shapes.sizes[0])} "
                        "or another listed size"
                    )
                return fitting
            target = [max(t, m) for t, m in zip(target, self.shapes.min)]
            if target[0] > self.shapes.max[0] or target[1] > self.shapes.max[1]:
                raise EdgeIRError(
                    f"expected frames up to {self.shapes.max[0]}x{self.shapes.max[1]} for this "
                    f"model, found {h}x{w}: {tile_hint()}"
                )
        return target[0], target[1]

    def _batches(self, tensors: list[np.ndarray]) -> list[tuple[np.ndarray, int]]:
        """The arrays the runtime is called with, each with how many of its items are real
        (a static batch is filled up with copies of the last one). Every tensor has one
        shape: the memory estimate is made once, before any batch is stacked."""
        _, h, w = tensors[0].shape
        check_fits(self.runtime.max_batch or min(self.batch, len(tensors)), h, w, self.runtime.info.device)
        batches = []
        for i in range(0, len(tensors), self.batch):
            group = tensors[i : i + self.batch]
            real = len(group)
            if self.runtime.max_batch is not None and len(group) < self.runtime.max_batch:
                group = group + [group[-1]] * (self.runtime.max_batch - len(group))
            batches.append((np.stack(group).astype(np.float32, copy=False), real))
        return batches

    def _whole_inputs(self, images: list[np.ndarray]) -> list[np.ndarray]:
        _, h, w = images[0].shape
        ph, pw = self._padded_size(h, w)
        return [pad_to(img, ph, pw) for img in images]

    def _tiling(self, image: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """The padded image and the top-left corner of every tile."""
        th, tw = self.tile
        _, h, w = image.shape
        padded = pad_to(image, max(h, th), max(w, tw))
        _, ph, pw = padded.shape
        ys, xs = _starts(ph, th, self.overlap), _starts(pw, tw, self.overlap)
        return padded, [(y, x) for y in ys for x in xs]

    def _needs_tiles(self, h: int, w: int) -> bool:
        return self.tile is not None and (h > self.tile[0] or w > self.tile[1])

    # One frame's work in three steps, shared by restore_batch and stream: _prepare (pad or
    # tile, batch), _infer (the network), _finish (crop or blend, back to the frame's format).

    def _prepare(self, converted: list[Converted]) -> _Job:
        """``to_chw`` frames of one size: all of them whole, or one frame in tiles."""
        image = converted[0][0]
        _, h, w = image.shape
        formats = [(fmt, alpha) for _, fmt, alpha in converted]
        if not self._needs_tiles(h, w):
            return _Job(formats, h, w, self._batches(self._whole_inputs([c[0] for c in converted])))
        th, tw = self.tile
        padded, boxes = self._tiling(image)
        batches = self._batches([padded[:, y : y + th, x : x + tw] for y, x in boxes])
        return _Job(formats, h, w, batches, boxes, (padded.shape[1], padded.shape[2]))

    def _infer(self, job: _Job) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        total = sum(real for _, real in job.batches)
        for batch, real in job.batches:
            out.extend(self.runtime(batch)[:real])
            if job.boxes is not None and self.on_tiles is not None:
                self.on_tiles(len(out), total)
        return out

    def _finish(self, job: _Job, outputs: list[np.ndarray]) -> list[np.ndarray]:
        h, w = job.height, job.width
        if job.boxes is None:
            restored = [r[:, :h, :w] for r in outputs]
        else:
            restored = [self._blend(job.boxes, job.padded, outputs)[:, :h, :w]]
        return [from_chw(r, fmt, alpha) for r, (fmt, alpha) in zip(restored, job.formats)]

    def _blend(self, boxes: list[tuple[int, int]], padded: Size, tiles: list[np.ndarray]) -> np.ndarray:
        th, tw = self.tile
        ph, pw = padded
        total = np.zeros((tiles[0].shape[0], ph, pw), dtype=np.float32)
        weights = np.zeros((1, ph, pw), dtype=np.float32)
        for (y, x), tile in zip(boxes, tiles):
            wy = _ramp(th, self.overlap, y > 0, y + th < ph)
            wx = _ramp(tw, self.overlap, x > 0, x + tw < pw)
            weight = wy[:, None] * wx[None, :]
            total[:, y : y + th, x : x + tw] += tile * weight
            weights[:, y : y + th, x : x + tw] += weight
        return total / weights

    def _groups(self, converted: list[Converted]) -> list[list[Converted]]:
        """Frames of one size as ``_prepare`` takes them: together, or one by one in tiles."""
        _, h, w = converted[0][0].shape
        return [[c] for c in converted] if self._needs_tiles(h, w) else [converted]

    def network_inputs(self, frame: np.ndarray) -> list[np.ndarray]:
        """The N x 3 x H x W arrays ``restore(frame)`` hands the runtime (padded, tiled,
        batched): what a device-only timing of that frame has to run."""
        self._check_open()
        job = self._prepare([to_chw(frame, self.color, self.value_range)])
        return [batch for batch, _ in job.batches]

    def restore(self, frame: np.ndarray) -> np.ndarray:
        """One frame; returns the restored frame in the frame's own dtype and layout."""
        return self.restore_batch([frame])[0]

    def restore_batch(self, frames: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Frames of one size, run ``batch`` at a time."""
        self._check_open()
        if len(frames) == 0:
            return []
        converted = [to_chw(f, self.color, self.value_range) for f in frames]
        shapes = {c[0].shape for c in converted}
        if len(shapes) > 1:
            raise EdgeIRError(f"expected frames of one size in a batch, found {sorted(shapes)}")
        restored: list[np.ndarray] = []
        for group in self._groups(converted):  # a tiled frame's tiles are prepared only when its turn comes
            job = self._prepare(group)
            restored += self._finish(job, self._infer(job))
        return restored

    def stream(self, frames: Iterable[np.ndarray], depth: int = 2, *, group: bool = True) -> Iterator[np.ndarray]:
        """Restored frames of ``frames``, in order, with the next frames prepared and the
        last ones finished while the network runs: a thread prepares (``to_chw``, padding,
        tiling), one runs the network, one finishes (crop, blend, back to the frame's
        format), at most ``depth`` frames (or batches) waiting between two of them, so a
        long video holds a few frames in memory. Each frame is handled on its own (sizes
        may change); with ``group`` and ``batch`` > 1, consecutive whole frames of one size
        share a network batch as in ``restore_batch``; ``group=False`` runs them one by one
        as ``restore`` does. The outputs are ``restore``'s.

        An error at a frame (in ``frames`` itself or in any step) is raised here after the
        frames before it, and the threads stop, as they do when the caller stops iterating
        (closes the generator). Plain threads around the runtime's synchronous call: ONNX
        Runtime and OpenVINO release the GIL while they compute, so one thread on each side
        of the network is what overlaps the work; more requests in flight
        (OpenVINO's AsyncInferQueue, ONNX Runtime's run_async) would only split the same
        cores between frames, and TensorRT and Core ML take one call at a time."""
        self._check_open()
        if not isinstance(depth, int) or depth < 1:
            raise EdgeIRError(f"expected a stream depth of at least 1, found {depth!r}")
        return self._stream(iter(frames), depth, group)

    def _stream(self, frames: Iterator[np.ndarray], depth: int, group: bool) -> Iterator[np.ndarray]:
        pipe = _Pipeline()
        prepared, inferred, finished = (queue.Queue(depth) for _ in range(3))
        stages = [
            (self._produce, (frames, pipe, prepared, group), "prepare"),
            (_stage, (pipe, prepared, inferred, lambda job: (job, self._infer(job))), "infer"),
            (_stage, (pipe, inferred, finished, lambda done: self._finish(*done)), "finish"),
        ]
        threads = [threading.Thread(target=target, args=args, name=f"edgeir-{name}", daemon=True)
                   for target, args, name in stages]
        try:
            for thread in threads:
                thread.start()
            while True:
                item = pipe.get(finished)
                if item is _END:
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                yield from item
        finally:
            pipe.stop.set()
            for thread in threads:
                if thread.ident is not None:
                    thread.join()

    def _produce(self, frames: Iterator[np.ndarray], pipe: _Pipeline, sink: queue.Queue, group: bool) -> None:
        """The first stage: frames pulled from the caller's iterator (in this thread, so
        that reading a file overlaps the network too), converted, grouped and prepared."""
        pending: list[Converted] = []

        def flush() -> bool:
            nonlocal pending
            ready, pending = pending, []
            return not ready or pipe.put(sink, self._prepare(ready))

        try:
            try:
                for frame in frames:
                    if pipe.stop.is_set():
                        return
                    converted = to_chw(frame, self.color, self.value_range)
                    _, h, w = converted[0].shape
                    tiled = self._needs_tiles(h, w)
                    if pending and (tiled or converted[0].shape != pending[0][0].shape) and not flush():
                        return
                    pending.append(converted)
                    if (tiled or not group or len(pending) >= self.batch) and not flush():
                        return
            except BaseException:
                flush()  # the frames before the one that failed, then its error
                raise
            if flush():
                pipe.put(sink, _END)
        except BaseException as exc:  # KeyboardInterrupt and SystemExit too: the caller must hear of it
            pipe.put(sink, _Failure(exc))

    def _check_open(self) -> None:
        if self.closed:
            raise EdgeIRError("this Restorer is closed: expected restore() or stream() before close() "
                              "(or inside its with-block), found a call after it; make a new Restorer")

    def close(self) -> None:
        """Release the runtime; later calls raise ``EdgeIRError``. Closing twice is harmless."""
        self.closed = True
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
