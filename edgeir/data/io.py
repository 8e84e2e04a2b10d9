"""Image and video files as RGB numpy frames.

Images go through OpenCV where it is installed (the ``video`` extra), else through Pillow
(the ``images`` extra, a few MB for a device that restores photos); video needs OpenCV.
Frames keep their bit depth (uint8 or uint16) and layout (gray, RGB, RGBA), except that
Pillow holds 16-bit colour in 8 bits and is refused for it; writes are atomic, so an
interrupted run leaves no half-written file.

Every image's size is read from its header (Pillow's lazy open) and checked against one
pixel limit before any decoder sees the pixels: a 1 MB PNG can hold 20000x20000 zeros, 1.2 GB
decoded. Videos are in ``edgeir.data.video``.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.fileio import atomic_path

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm")


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


MAX_PIXELS_ENV = "EDGEIR_MAX_IMAGE_PIXELS"
DEFAULT_MAX_PIXELS = 8192 * 8192
"""The most pixels an image may have (67 MP), checked from its header before it is decoded:
an 8K UHD frame (7680x4320, 33 MP) twice over, or a 60 MP camera photo. Decoded, such an
RGB image takes 200 MB (400 MB at 16 bits) and Restorer's float32 copy 800 MB, which an 8 GB
device holds; the environment variable ``EDGEIR_MAX_IMAGE_PIXELS`` raises (or lowers) it for
``edgeir run``, ``edgeir serve``, ``Restorer`` callers' ``read_image`` and every other reader."""

HEADER_FORMATS = ("PNG", "JPEG", "TIFF", "WEBP", "BMP")
"""What Pillow may identify a header as: the formats edgeir reads, nothing else (no plugin
that hands a file to another program, no format OpenCV would decode differently)."""


class ImageTooLarge(EdgeIRError):
    """An image over the pixel limit, refused from its header (413 over HTTP)."""


def max_image_pixels() -> int:
    """``EDGEIR_MAX_IMAGE_PIXELS`` where set, else :data:`DEFAULT_MAX_PIXELS`."""
    value = os.environ.get(MAX_PIXELS_ENV, "").strip().replace("_", "")
    if not value:
        return DEFAULT_MAX_PIXELS
    if not value.isdigit() or int(value) < 1:
        raise EdgeIRError(f"expected {MAX_PIXELS_ENV} to be a whole number of pixels (e.g. "
                          f"{DEFAULT_MAX_PIXELS}), found {os.environ[MAX_PIXELS_ENV]!r}")
    return int(value)


def check_pixels(width: int, height: int, where: str, max_pixels: int | None = None) -> None:
    """Raise :class:`ImageTooLarge` for an image of more than ``max_pixels`` (default: the
    limit above) pixels."""
    limit = max_image_pixels() if max_pixels is None else max_pixels
    if width * height > limit:
        raise ImageTooLarge(f"expected an image of at most {limit} pixels ({MAX_PIXELS_ENV} raises the "
                            f"limit), found {width}x{height} in {where}")


_PILLOW_GUARD = threading.Lock()
"""Held while Pillow's own pixel guard is set aside to read a header (see ``open_header``)."""


@contextlib.contextmanager
def open_header(source: Path | bytes, where: str, max_pixels: int | None) -> Iterator[Any]:
    """The image opened by Pillow, which reads its header and no pixel data, once its size
    passed :func:`check_pixels`; None where Pillow cannot read the header. Pillow's own guard
    (``PIL.Image.MAX_IMAGE_PIXELS``) refuses at a limit of its own without saying the size,
    so it is set aside, under a lock, for the ``open`` alone: this check replaces it, and
    every decode that follows (Pillow's, or OpenCV's) sees only an image that passed."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise EdgeIRError('reading an image needs Pillow to check its size before it is decoded, found '
                          'OpenCV only: pip install "edgeir[video]" (OpenCV and Pillow)') from None
    fp = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    try:
        canvas = webp_canvas(_head(source))
        if canvas is not None:  # Pillow's WebP plugin allocates the canvas as it opens the file
            check_pixels(*canvas, where, max_pixels)
        with _PILLOW_GUARD:
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                image = Image.open(fp, formats=HEADER_FORMATS)
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except FileNotFoundError:
        raise EdgeIRError(f"expected a readable image, could not read {where}: no such file") from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        image = None
    if image is None:
        yield None
        return
    with image:
        check_pixels(*image.size, where, max_pixels)
        yield image


def _head(source: Path | bytes, size: int = 30) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source[:size])
    with open(source, "rb") as handle:
        return handle.read(size)


def webp_canvas(head: bytes) -> tuple[int, int] | None:
    """(width, height) of a WebP from its first 30 bytes (RIFF header and first chunk: VP8X's
    canvas, or a lossy or lossless frame's size), None for anything else. Read here because
    Pillow's WebP plugin creates its decoder, canvas included, while it opens the file,
    before a size could be checked."""
    if len(head) < 30 or head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    chunk = head[12:16]
    if chunk == b"VP8X":
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    if chunk == b"VP8 " and head[23:26] == b"\x9d\x01\x2a":
        return int.from_bytes(head[26:28], "little") & 0x3FFF, int.from_bytes(head[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _orientation(image: Any) -> int:
    """The EXIF orientation (1 = upright) of a lazily opened image, from its header alone:
    Pillow's ``getexif`` on a PNG decodes the whole image to look for EXIF after the pixel
    data, so a PNG's orientation comes only from an eXIf chunk before it (where the PNG
    specification puts it)."""
    try:
        if image.format == "PNG" and "exif" not in image.info:
            return 1
        return int(image.getexif().get(0x0112, 1))
    except Exception:  # a damaged EXIF block: the image itself may still be fine
        return 1


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def swap_rb(frame: np.ndarray) -> np.ndarray:
    """RGB(A) to OpenCV's BGR(A) order, or back (gray frames as they are)."""
    if frame.ndim == 3 and frame.shape[2] in (3, 4):
        order = [2, 1, 0] + ([3] if frame.shape[2] == 4 else [])
        return np.ascontiguousarray(frame[:, :, order])
    return frame


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


def read_image(path: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """H x W (gray), H x W x 3 (RGB) or H x W x 4 (RGBA), uint8 or uint16, upright
    (EXIF orientation applied). An image of more than ``max_pixels`` (default: the
    ``EDGEIR_MAX_IMAGE_PIXELS`` limit) is refused from its header, before it is decoded."""
    path = Path(path)
    with open_header(path, str(path), max_pixels) as image:
        if image is None:
            raise EdgeIRError(f"expected a readable image (PNG, JPEG, TIFF, WebP, BMP; 8 or 16 bits), "
                              f"could not read {path}")
        if image_library() == "PIL":
            return _from_pillow(image, str(path))
        orientation = _orientation(image)
    frame = cv2().imread(str(path), cv2().IMREAD_UNCHANGED)
    if frame is None:
        raise EdgeIRError(f"expected a readable image, could not read {path}")
    return _from_opencv(frame, orientation, str(path))


def _from_opencv(frame: np.ndarray, orientation: int, where: str) -> np.ndarray:
    if frame.dtype not in (np.uint8, np.uint16):
        raise EdgeIRError(f"expected an 8- or 16-bit image, found {frame.dtype} in {where}")
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[:, :, 0]
    return _apply_orientation(swap_rb(frame), orientation)


PILLOW_MODES = {"L": None, "RGB": None, "RGBA": None, "I;16": np.uint16, "I": np.uint16,
                "1": "L", "P": "RGBA", "PA": "RGBA", "LA": "RGBA", "CMYK": "RGB", "YCbCr": "RGB"}
"""Pillow image modes: kept as they are (None), read as uint16 gray, or converted to a mode."""


def _from_pillow(image: Any, where: str) -> np.ndarray:
    """The pixels of an image ``open_header`` opened (and checked), as ``read_image`` gives them."""
    from PIL import Image

    orientation = _orientation(image)
    try:
        image.load()
        mode = PILLOW_MODES.get(image.mode, "RGB")
        frame = np.asarray(image.convert(mode) if isinstance(mode, str) else image)
    except Image.DecompressionBombError:  # past Pillow's own guard too (a raised EDGEIR limit)
        raise ImageTooLarge(f"expected an image Pillow decodes (PIL.Image.MAX_IMAGE_PIXELS guards it), found "
                            f"{image.size[0]}x{image.size[1]} in {where}") from None
    except (OSError, ValueError, SyntaxError):
        raise EdgeIRError(f"expected a readable image, could not read {where}") from None
    if mode is np.uint16:
        if frame.min() < 0 or frame.max() > 65535:
            raise EdgeIRError(f"expected an 8- or 16-bit image, found {image.mode} values in {where}")
        frame = frame.astype(np.uint16)
    if frame.dtype not in (np.uint8, np.uint16):
        raise EdgeIRError(f"expected an 8- or 16-bit image, found {frame.dtype} in {where}")
    return _apply_orientation(frame, orientation)


SIXTEEN_BIT_SUFFIXES = (".png", ".tif", ".tiff")
ALPHA_SUFFIXES = (".png", ".tif", ".tiff", ".webp")
"""Formats that keep an alpha plane with OpenCV and with Pillow alike (Pillow's BMP drops it)."""


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
        if not cv2().imwrite(str(temp), swap_rb(frame)):
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


def decode_image(data: bytes, max_pixels: int | None = None, where: str = "the image bytes") -> np.ndarray:
    """Image file bytes (an HTTP body, a message) as ``read_image`` reads the file: gray,
    RGB or RGBA, uint8 or uint16, upright, refused from the header over ``max_pixels``.
    Undecodable bytes are a user error, not a crash, because they come from a client rather
    than from this program."""
    if not data:
        raise EdgeIRError("expected image bytes (PNG, JPEG, TIFF, WebP, BMP), found none")
    data = bytes(data)
    with open_header(data, where, max_pixels) as image:
        if image is None:
            raise EdgeIRError(f"expected an image (PNG, JPEG, TIFF, WebP, BMP; 8 or 16 bits), found {len(data)} "
                              "bytes whose header Pillow cannot read")
        if image_library() == "PIL":
            return _from_pillow(image, where)
        orientation = _orientation(image)
    try:
        frame = cv2().imdecode(np.frombuffer(data, dtype=np.uint8), cv2().IMREAD_UNCHANGED)
    except cv2().error:
        frame = None
    if frame is None:
        raise EdgeIRError(f"expected an image (PNG, JPEG, TIFF, WebP, BMP), found {len(data)} bytes "
                          "OpenCV cannot decode")
    return _from_opencv(frame, orientation, where)


def check_format_holds(frame: np.ndarray, suffix: str) -> None:
    """Raise unless the format of ``suffix`` holds the frame's bit depth and alpha plane:
    an answer over a network drops neither silently (``write_image``, whose caller named the
    file, rounds 16 bits to 8 as its docstring says)."""
    suffix = suffix.lower() if suffix.startswith(".") else f".{suffix.lower()}"
    sixteen, alpha = frame.dtype == np.uint16, frame.ndim == 3 and frame.shape[2] == 4
    holds = [s for s in IMAGE_SUFFIXES
             if (not sixteen or s in SIXTEEN_BIT_SUFFIXES) and (not alpha or s in ALPHA_SUFFIXES)]
    if suffix not in holds:
        needs = " and ".join(n for n, needed in (("16-bit depth", sixteen), ("alpha plane", alpha)) if needed)
        raise EdgeIRError(f"expected a format that keeps the image's {needs} ({', '.join(h[1:] for h in holds)}), "
                          f"found {suffix[1:]}, which drops it")


def encode_image(frame: np.ndarray, suffix: str = ".png") -> bytes:
    """The image file bytes of ``frame`` (PNG by default: it keeps 16-bit depth and alpha),
    for answering over a network without a file; refused where the format would drop the
    frame's depth or alpha (see :func:`check_format_holds`)."""
    suffix = suffix.lower() if suffix.startswith(".") else f".{suffix.lower()}"
    if suffix not in IMAGE_SUFFIXES:
        raise EdgeIRError(f"expected an image format ({', '.join(IMAGE_SUFFIXES)}), found {suffix!r}")
    if frame.dtype not in (np.uint8, np.uint16):
        raise EdgeIRError(f"expected a uint8 or uint16 frame to encode, found {frame.dtype}")
    check_format_holds(frame, suffix)
    if image_library() == "PIL":
        return _encode_with_pillow(frame, suffix)
    try:
        ok, buffer = cv2().imencode(suffix, swap_rb(frame))
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
