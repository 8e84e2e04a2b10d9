"""Video files, read and written as RGB uint8 frames with OpenCV (the ``video`` extra).

OpenCV's reader gives every frame at the size of the first and rescales a frame of another
size without a word; a video whose frames are JPEG images (MJPEG) has each frame's size read
from its own header, and a video of any codec has its frame size checked against the image
pixel limit (``edgeir.data.io``) before a frame is decoded. Writes are atomic, as for images.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.data.io import check_pixels, cv2, open_header, swap_rb
from edgeir.errors import EdgeIRError
from edgeir.fileio import atomic_path

FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG", ".webm": "VP80"}
"""The codec each container is written with."""
JPEG_FOURCCS = frozenset({"MJPG", "MJPA", "JPEG", "AVRN", "AVDJ", "DMB1", "LJPG", "JPGL"})
"""Codecs whose every frame is a JPEG image, with its own size in its own header."""


class VideoReader:
    """RGB uint8 frames of a video file, in order, all of one size.

    OpenCV's reader gives every frame at the size of the first and rescales a frame of
    another size without a word (its reported width and height do not change either). For a
    video whose frames are JPEG images (MJPEG, the common case of a camera that switches
    resolution), a second reader in OpenCV's raw mode hands over each frame's bytes
    undecoded, in step, and the size in each frame's header is checked before the frame is
    decoded: a frame of another size is refused in one line naming it, rather than restored
    rescaled, since the restored video is written at one size. (Restoring each frame at its
    own size would need a video file per size.) Each frame's pixels are checked against the
    image limit there too. OpenCV gives no per-frame size for other codecs, so there a size
    change cannot be seen."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._capture = cv2().VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise EdgeIRError(f"expected a readable video, could not open {self.path}")
        self.fps = float(self._capture.get(cv2().CAP_PROP_FPS)) or 25.0
        self.frame_count = int(self._capture.get(cv2().CAP_PROP_FRAME_COUNT))
        try:  # the container's frame size, before a first frame of it is decoded (any codec)
            check_pixels(int(self._capture.get(cv2().CAP_PROP_FRAME_WIDTH)),
                         int(self._capture.get(cv2().CAP_PROP_FRAME_HEIGHT)), f"the frames of {self.path}")
        except EdgeIRError:
            self._capture.release()
            raise
        fourcc = (int(self._capture.get(cv2().CAP_PROP_FOURCC)) & 0xFFFFFFFF).to_bytes(4, "little")
        self._packets = self._open(raw=True) if fourcc.decode("latin-1").upper() in JPEG_FOURCCS else None
        self._next = 0
        """The number of the next frame read."""

    def _open(self, raw: bool = False) -> Any:
        """A new OpenCV reader of the file; ``raw``: one that gives frames undecoded (None
        where OpenCV cannot)."""
        capture = cv2().VideoCapture(str(self.path))
        if raw and not (capture.isOpened() and capture.set(cv2().CAP_PROP_FORMAT, -1)):
            capture.release()
            return None
        return capture

    def __iter__(self) -> Iterator[np.ndarray]:
        first: tuple[int, int] | None = None
        while True:
            size = self._frame_size()
            ok, frame = self._capture.read()
            if not ok:
                return
            if size is not None:
                first = self._check_size(size, first, frame)
            self._next += 1
            yield swap_rb(frame)

    def _frame_size(self) -> tuple[int, int] | None:
        """(width, height) from the header of the next frame's bytes, once checked against
        the pixel limit; None where the frames are not JPEG images or a header is unreadable."""
        if self._packets is None:
            return None
        ok, packet = self._packets.read()
        if not ok:
            return None
        with open_header(packet.tobytes(), f"frame {self._next} of {self.path}", None) as image:
            return None if image is None else image.size

    def _check_size(self, size: tuple[int, int], first: tuple[int, int] | None,
                    frame: np.ndarray) -> tuple[int, int]:
        """The size all frames must have (the first one's); raise for a frame of another."""
        h, w = frame.shape[:2]
        if first is None and size in ((w, h), (h, w)):  # (h, w): OpenCV turned it upright
            return size
        if first is not None and size == first:
            return first
        expected = first or (w, h)
        raise EdgeIRError(
            f"expected frames of one size in {self.path}, found frame {self._next} at {size[0]}x{size[1]} "
            f"where the video is {expected[0]}x{expected[1]}: OpenCV would rescale it, so edgeir refuses the "
            "video rather than restore a rescaled frame; split it where its size changes")

    def seek(self, index: int) -> None:
        """Make frame ``index`` the next one read. OpenCV seeks to the key frame before it
        and decodes forward; where it cannot, the frames before are decoded and dropped."""
        if index <= 0:
            return
        self._capture = self._moved(self._capture, index)
        if self._packets is not None:
            self._packets = self._moved(self._packets, index, raw=True)
        self._next = index

    def _moved(self, capture: Any, index: int, raw: bool = False) -> Any:
        """``capture`` with frame ``index`` next, or a new reader moved there frame by frame."""
        if capture.set(cv2().CAP_PROP_POS_FRAMES, index) and int(capture.get(cv2().CAP_PROP_POS_FRAMES)) == index:
            return capture
        capture.release()
        capture = self._open(raw)
        for skipped in range(index):
            if capture is None or not capture.grab():
                raise EdgeIRError(f"expected at least {index} frames in {self.path}, found {skipped}")
        return capture

    def batches(self, size: int, count: int | None = None) -> Iterator[list[np.ndarray]]:
        """The frames in lists of ``size`` (the last may be shorter), at most ``count`` frames."""
        batch: list[np.ndarray] = []
        for number, frame in enumerate(self):
            if count is not None and number >= count:
                break
            batch.append(frame)
            if len(batch) == size:
                yield batch
                batch = []
        if batch:
            yield batch

    def check_complete(self, read: int, output: Path, expected: int | None = None) -> None:
        """Raise when fewer frames were read than the container promised (``expected`` of a
        range); raised inside a writer's block, the shortened output is not kept."""
        expected = self.frame_count if expected is None else expected
        if read == 0:
            raise EdgeIRError(f"expected frames in {self.path}, found none")
        if read < expected:
            raise EdgeIRError(
                f"expected {expected} frames in {self.path} (its container says so), could read "
                f"only {read}: the video is damaged after frame {read}; nothing was written to {output}")

    def close(self) -> None:
        self._capture.release()
        if self._packets is not None:
            self._packets.release()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoWriter:
    """Writes RGB uint8 frames; the file appears under its name only when closed
    without error."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = fps
        self._atomic = atomic_path(self.path)
        self._temp = self._atomic.__enter__()
        self._writer = None

    def write(self, frame: np.ndarray) -> None:
        if self._writer is None:
            h, w = frame.shape[:2]
            fourcc = cv2().VideoWriter_fourcc(*FOURCC.get(self.path.suffix.lower(), "mp4v"))
            self._writer = cv2().VideoWriter(str(self._temp), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                raise EdgeIRError(f"expected to write a video to {self.path}, OpenCV refused it")
        self._writer.write(swap_rb(frame))

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._writer is not None:
            self._writer.release()
        elif exc_type is None:
            empty = EdgeIRError(f"expected frames to write to {self.path}, found none")
            self._atomic.__exit__(EdgeIRError, empty, None)
            raise empty
        self._atomic.__exit__(exc_type, exc, tb)
