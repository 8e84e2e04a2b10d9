"""Image and video files as RGB numpy frames.

Images go through OpenCV where it is installed (the ``video`` extra), else through Pillow
(the ``images`` extra, a few MB for a device that restores photos); video needs OpenCV.
Frames keep their bit depth (uint8 or uint16) and layout (gray, RGB, RGBA), except that
Pillow holds 16-bit colour in 8 bits and is refused for it; writes are atomic, so an
interrupted run leaves no half-written file.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.fileio import atomic_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm")
FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG", ".webm": "VP80"}


def cv2() -> ModuleType:
    try:
        import cv2 as module
    except ImportError:
        raise EdgeIRError('reading and writing video needs OpenCV: pip install "edgeir[video]"') from None
    return module


def image_library() -> str:
    """``cv2`` or ``PIL``, whichever reads images here (OpenCV first: it keeps 16-bit colour)."""
    import importlib.util

    for name in ("cv2", "PIL"):
        # sys.modules first: find_spec raises on a module another thread is importing.
        if name in sys.modules or importlib.util.find_spec(name) is not None:
            return name
    raise EdgeIRError('reading and writing images needs OpenCV or Pillow, found neither: '
                      'pip install "edgeir[images]" (Pillow) or "edgeir[video]" (OpenCV)')


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def _swap_rb(frame: np.ndarray) -> np.ndarray:
    if frame.ndim == 3 and frame.shape[2] in (3, 4):
        order = [2, 1, 0] + ([3] if frame.shape[2] == 4 else [])
        return np.ascontiguousarray(frame[:, :, order])
    return frame


def _exif_orientation(path: Path) -> int:
    """EXIF orientation tag (1 = upright). Read with Pillow when present, because OpenCV
    applies it only when it may also drop alpha and 16-bit depth."""
    try:
        from PIL import Image
    except ImportError:
        return 1
    try:
        with Image.open(path) as image:
            return int(image.getexif().get(0x0112, 1))
    except Exception:  # not an image Pillow reads: OpenCV decides below
        return 1


def _apply_orientation(frame: np.ndarray, orientation: int) -> np.ndarray:
    """The EXIF transforms (PIL's ``exif_transpose``) on an H x W [x C] array."""
    if orientation == 2:
        frame = frame[:, ::-1]
    elif orientation == 3:
        frame = frame[::-1, ::-1]
    elif orientation == 4:
        frame = frame[::-1]
    elif orientation == 5:
        frame = frame.swapaxes(0, 1)
    elif orientation == 6:
        frame = np.rot90(frame, k=-1)
    elif orientation == 7:
        frame = frame[::-1, ::-1].swapaxes(0, 1)
    elif orientation == 8:
        frame = np.rot90(frame, k=1)
    return np.ascontiguousarray(frame)


def read_image(path: str | Path) -> np.ndarray:
    """H x W (gray), H x W x 3 (RGB) or H x W x 4 (RGBA), uint8 or uint16, upright
    (EXIF orientation applied)."""
    path = Path(path)
    if image_library() == "PIL":
        return _read_with_pillow(path)
    frame = cv2().imread(str(path), cv2().IMREAD_UNCHANGED)
    if frame is None:
        raise EdgeIRError(f"expected a readable image, could not read {path}")
    if frame.dtype not in (np.uint8, np.uint16):
        raise EdgeIRError(f"expected an 8- or 16-bit image, found {frame.dtype} in {path}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    return _apply_orientation(_swap_rb(frame), _exif_orientation(path))


PILLOW_MODES = {"L": None, "RGB": None, "RGBA": None, "I;16": np.uint16, "I": np.uint16,
                "1": "L", "P": "RGBA", "PA": "RGBA", "LA": "RGBA", "CMYK": "RGB", "YCbCr": "RGB"}
"""Pillow image modes: kept as they are (None), read as uint16 gray, or converted to a mode."""


def _read_with_pillow(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
            mode = PILLOW_MODES.get(image.mode, "RGB")
            if isinstance(mode, str):
                image = image.convert(mode)
            frame = np.asarray(image)
            if mode is np.uint16:
                if frame.min() < 0 or frame.max() > 65535:
                    raise EdgeIRError(f"expected an 8- or 16-bit image, found {image.mode} values in {path}")
                frame = frame.astype(np.uint16)
    except (OSError, UnidentifiedImageError, ValueError):
        raise EdgeIRError(f"expected a readable image, could not read {path}") from None
    if frame.dtype not in (np.uint8, np.uint16):
        raise EdgeIRError(f"expected an 8- or 16-bit image, found {frame.dtype} in {path}")
    return _apply_orientation(frame, _exif_orientation(path))


SIXTEEN_BIT_SUFFIXES = (".png", ".tif", ".tiff")


def write_image(path: str | Path, frame: np.ndarray) -> None:
    """Write atomically; 16-bit frames keep their depth in PNG and TIFF and are rounded
    to 8 bits for formats that only hold 8 (JPEG, WebP, BMP)."""
    path = Path(path)
    if frame.dtype == np.uint16 and path.suffix.lower() not in SIXTEEN_BIT_SUFFIXES:
        frame = np.rint(frame / 257.0).astype(np.uint8)
    if image_library() == "PIL":
        _write_with_pillow(path, frame)
        return
    with atomic_path(path) as temp:
        if not cv2().imwrite(str(temp), _swap_rb(frame)):
            raise EdgeIRError(f"expected to write an image to {path}, OpenCV refused {path.suffix}")


def _write_with_pillow(path: Path, frame: np.ndarray) -> None:
    from PIL import Image

    if frame.dtype == np.uint16 and frame.ndim == 3:
        raise EdgeIRError(f"expected OpenCV to write the 16-bit colour image {path.name} (Pillow holds "
                          'only 8 bits per colour channel), found Pillow only: pip install "edgeir[video]"')
    image = Image.fromarray(frame if frame.ndim == 2 or frame.shape[2] != 1 else frame[:, :, 0])
    with atomic_path(path) as temp:
        try:
            image.save(temp, format=Image.registered_extensions().get(path.suffix.lower()))
        except (OSError, KeyError, ValueError) as exc:
            raise EdgeIRError(f"expected to write an image to {path}, Pillow refused it: {exc}") from None


def decode_image(data: bytes) -> np.ndarray:
    """Image file bytes (an HTTP body, a message) as ``read_image`` reads the file: gray,
    RGB or RGBA, uint8 or uint16, upright. Undecodable bytes are a user error, not a crash,
    because they come from a client rather than from this program."""
    if not data:
        raise EdgeIRError("expected image bytes (PNG, JPEG, TIFF, WebP, BMP), found none")
    if image_library() == "PIL":
        return _decode_with_pillow(bytes(data))
    try:
        frame = cv2().imdecode(np.frombuffer(data, dtype=np.uint8), cv2().IMREAD_UNCHANGED)
    except cv2().error:
        frame = None
    if frame is None:
        raise EdgeIRError(f"expected an image (PNG, JPEG, TIFF, WebP, BMP), found {len(data)} bytes "
                          "OpenCV cannot decode")
    if frame.dtype not in (np.uint8, np.uint16):
        raise EdgeIRError(f"expected an 8- or 16-bit image, found {frame.dtype}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    return _apply_orientation(_swap_rb(frame), _exif_orientation_of_bytes(bytes(data)))


def _exif_orientation_of_bytes(data: bytes) -> int:
    """``_exif_orientation`` for bytes in memory (1 = upright, also without Pillow)."""
    try:
        from PIL import Image
    except ImportError:
        return 1
    try:
        with Image.open(io.BytesIO(data)) as image:
            return int(image.getexif().get(0x0112, 1))
    except Exception:  # not an image Pillow reads: OpenCV decided already
        return 1


def _decode_with_pillow(data: bytes) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            orientation = int(image.getexif().get(0x0112, 1))
            mode = PILLOW_MODES.get(image.mode, "RGB")
            if isinstance(mode, str):
                image = image.convert(mode)
            frame = np.asarray(image)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        raise EdgeIRError(f"expected an image (PNG, JPEG, TIFF, WebP, BMP), found {len(data)} bytes "
                          "Pillow cannot decode") from None
    if mode is np.uint16:
        if frame.min() < 0 or frame.max() > 65535:
            raise EdgeIRError(f"expected an 8- or 16-bit image, found {image.mode} values")
        frame = frame.astype(np.uint16)
    if frame.dtype not in (np.uint8, np.uint16):
        raise EdgeIRError(f"expected an 8- or 16-bit image, found {frame.dtype}")
    return _apply_orientation(frame, orientation)


def encode_image(frame: np.ndarray, suffix: str = ".png") -> bytes:
    """The bytes ``write_image`` would write to a file with this suffix (PNG by default:
    it keeps 16-bit depth and alpha), for answering over a network without a file."""
    suffix = suffix.lower() if suffix.startswith(".") else f".{suffix.lower()}"
    if suffix not in IMAGE_SUFFIXES:
        raise EdgeIRError(f"expected an image format ({', '.join(IMAGE_SUFFIXES)}), found {suffix!r}")
    if frame.dtype not in (np.uint8, np.uint16):
        raise EdgeIRError(f"expected a uint8 or uint16 frame to encode, found {frame.dtype}")
    if frame.dtype == np.uint16 and suffix not in SIXTEEN_BIT_SUFFIXES:
        frame = np.rint(frame / 257.0).astype(np.uint8)
    if image_library() == "PIL":
        return _encode_with_pillow(frame, suffix)
    try:
        ok, buffer = cv2().imencode(suffix, _swap_rb(frame))
    except cv2().error:
        ok = False
    if not ok:
        raise EdgeIRError(f"expected OpenCV to encode a {frame.shape} {frame.dtype} frame as {suffix}, "
                          "it refused")
    return buffer.tobytes()


def _encode_with_pillow(frame: np.ndarray, suffix: str) -> bytes:
    from PIL import Image

    if frame.dtype == np.uint16 and frame.ndim == 3:
        raise EdgeIRError("expected OpenCV to encode a 16-bit colour image (Pillow holds only 8 bits "
                          'per colour channel), found Pillow only: pip install "edgeir[video]"')
    image = Image.fromarray(frame if frame.ndim == 2 or frame.shape[2] != 1 else frame[:, :, 0])
    out = io.BytesIO()
    try:
        image.save(out, format=Image.registered_extensions()[suffix])
    except (OSError, KeyError, ValueError) as exc:
        raise EdgeIRError(f"expected Pillow to encode a {frame.shape} frame as {suffix}, "
                          f"it refused: {exc}") from None
    return out.getvalue()


class VideoReader:
    """RGB uint8 frames of a video file, in order."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._capture = cv2().VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise EdgeIRError(f"expected a readable video, could not open {self.path}")
        self.fps = float(self._capture.get(cv2().CAP_PROP_FPS)) or 25.0
        self.frame_count = int(self._capture.get(cv2().CAP_PROP_FRAME_COUNT))

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            ok, frame = self._capture.read()
            if not ok:
                return
            yield _swap_rb(frame)

    def seek(self, index: int) -> None:
        """Make frame ``index`` the next one read. OpenCV seeks to the key frame before it
        and decodes forward; where it cannot, the frames before are decoded and dropped."""
        if index <= 0:
            return
        capture = self._capture
        if capture.set(cv2().CAP_PROP_POS_FRAMES, index) and int(capture.get(cv2().CAP_PROP_POS_FRAMES)) == index:
            return
        capture.release()
        self._capture = capture = cv2().VideoCapture(str(self.path))
        for skipped in range(index):
            if not capture.grab():
                raise EdgeIRError(f"expected at least {index} frames in {self.path}, found {skipped}")

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
        self._writer.write(_swap_rb(frame))

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
