"""Camera and file frames to the network's tensor layout and back.

In: H x W x 3 (RGB or BGR), H x W (gray) or H x W x 4 (alpha passed through), as
uint8, uint16 or float in [0, 1] (or [0, ``value_range``]). Out: the same dtype, layout
and range, clamped. Float frames are checked, not trusted: one NaN would spread through
every convolution to the whole output, and a 0..255 frame read as 0..1 would come back
white, so both are refused with what was found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeir.errors import EdgeIRError

SCALES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
COLORS = ("rgb", "bgr")


@dataclass(frozen=True)
class FrameFormat:
    dtype: np.dtype
    channels: int
    """0 for a 2-D gray frame, else 1, 3 or 4."""
    bgr: bool
    scale: float = 1.0
    """What 1.0 in the network's range is in the frame's: 255 for uint8, 65535 for uint16,
    ``value_range`` for floats."""


def check_float_values(data: np.ndarray, value_range: float) -> None:
    """Refuse non-finite values and values outside [0, value_range], counting them."""
    finite = np.isfinite(data)
    if not finite.all():
        nan = int(np.isnan(data).sum())
        raise EdgeIRError(f"expected finite values in a float frame, found {nan} NaN and "
                          f"{data.size - int(finite.sum()) - nan} infinite value(s): replace them "
                          "(np.nan_to_num) before restoring")
    low, high = float(data.min()), float(data.max())
    if low < 0 or high > value_range:
        hint = ("value_range=255.0 for 0..255 frames" if high > 1 and value_range == 1.0
                else "clip it (np.clip) or pass its value_range")
        raise EdgeIRError(f"expected a float frame in [0, {value_range:g}], found values in "
                          f"[{low:.4g}, {high:.4g}]: {hint}")


def to_chw(frame: np.ndarray, color: str = "rgb", value_range: float = 1.0
           ) -> tuple[np.ndarray, FrameFormat, np.ndarray | None]:
    """(3 x H x W float32 RGB in [0, 1], the frame's format, its alpha plane or None)."""
    if color not in COLORS:
        raise EdgeIRError(f"expected color 'rgb' or 'bgr', found {color!r}")
    if not isinstance(frame, np.ndarray):
        raise EdgeIRError(f"expected a numpy frame, found {type(frame).__name__}")
    if frame.ndim == 2:
        channels = 0
    elif frame.ndim == 3 and frame.shape[2] in (1, 3, 4):
        channels = frame.shape[2]
    else:
        raise EdgeIRError(f"expected an H x W, H x W x 3 or H x W x 4 frame, found shape {frame.shape}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise EdgeIRError(f"expected a frame with pixels, found shape {frame.shape}")
    if frame.dtype in SCALES:
        scale = SCALES[frame.dtype]
        data = frame.astype(np.float32) / scale
    elif np.issubdtype(frame.dtype, np.floating):
        check_float_values(frame[:, :, :3] if channels == 4 else frame, value_range)
        scale = float(value_range)
        data = frame.astype(np.float32, copy=False)
        data = data / np.float32(scale) if scale != 1.0 else data
    else:
        raise EdgeIRError(f"expected a uint8, uint16 or float frame, found {frame.dtype}")
    fmt = FrameFormat(frame.dtype, channels, color == "bgr", scale)
    alpha = None
    if channels in (0, 1):
        plane = data if channels == 0 else data[:, :, 0]
        rgb = np.repeat(plane[None], 3, axis=0)
    else:
        if channels == 4:
            alpha = frame[:, :, 3]
        rgb = data[:, :, :3].transpose(2, 0, 1)
        if fmt.bgr:
            rgb = rgb[::-1]
    return np.ascontiguousarray(rgb), fmt, alpha


def from_chw(restored: np.ndarray, fmt: FrameFormat, alpha: np.ndarray | None) -> np.ndarray:
    """Back to the frame's own dtype and layout, clamped to the value range."""
    data = np.clip(restored, 0.0, 1.0)
    if fmt.channels in (0, 1):
        hwc = data.mean(axis=0)
        if fmt.channels == 1:
            hwc = hwc[:, :, None]
    else:
        if fmt.bgr:
            data = data[::-1]
        hwc = data.transpose(1, 2, 0)
    if fmt.dtype in SCALES:
        hwc = np.rint(hwc * fmt.scale).astype(fmt.dtype)
    else:
        hwc = (hwc * fmt.scale if fmt.scale != 1.0 else hwc).astype(fmt.dtype)
    if alpha is not None:
        hwc = np.concatenate([hwc, alpha[:, :, None].astype(hwc.dtype)], axis=2)
    return np.ascontiguousarray(hwc)


def pad_to(chw: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pad bottom/right to (height, width) like upstream evaluation: reflect where the
    frame is large enough to reflect, replicate the edge where it is not."""
    _, h, w = chw.shape
    for axis, pad, size in ((1, height - h, h), (2, width - w, w)):
        if pad > 0:
            widths = [(0, 0)] * 3
            widths[axis] = (0, pad)
            chw = np.pad(chw, widths, mode="reflect" if pad < size else "edge")
    return chw


def centre_crop(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The centre ``size`` (H, W) of an H x W (x C) image, or as much of it as the image
    has: a view, so callers that need a contiguous array copy it."""
    h, w = min(size[0], image.shape[0]), min(size[1], image.shape[1])
    top, left = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
    return image[top : top + h, left : left + w]

