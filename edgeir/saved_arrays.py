"""Arrays that edgeir wrote and reads back (a bundle's frames and reference outputs, the
bench's saved outputs and sample crops): read without unpickling and checked for dtype,
shape and finiteness, since a damaged or hand-made file would otherwise score silently."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeir.errors import EdgeIRError


def read_arrays(path: Path, what: str) -> dict[str, Any]:
    """Every array of an ``.npz`` edgeir wrote (a bundle's frames, the bench's saved
    outputs), read whole; a damaged, truncated or foreign file is one line naming it.
    ``allow_pickle`` stays off: an object array is refused, never unpickled."""
    import zipfile

    import numpy as np

    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an archive of them")
        with data:
            return {name: data[name] for name in data.files}
    except FileNotFoundError:
        raise EdgeIRError(f"expected {what} at {path}, found nothing") from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as exc:
        found = str(exc).split(". ")[0] if str(exc) else type(exc).__name__
        raise EdgeIRError(f"expected {what} as a numpy .npz archive in {path}, found a damaged file "
                          f"({found})") from None


def check_image(array: Any, what: str, dtype: str, shape: tuple[int, ...] | None = None, like: str = "") -> None:
    """``array`` is an H x W x 3 image of ``dtype`` (of ``shape`` when given: that of
    ``like``), finite where it is floating point; else one line naming it. What a bundle or
    a resumed run hands the metrics is checked, not trusted: float64 frames or NaN outputs
    would score silently."""
    import numpy as np

    found = f"{getattr(array, 'dtype', type(array).__name__)} {getattr(array, 'shape', '')}".strip()
    if not isinstance(array, np.ndarray) or array.dtype != np.dtype(dtype) or array.ndim != 3 or array.shape[2] != 3:
        raise EdgeIRError(f"expected {what} as {dtype} H x W x 3, found {found}")
    if shape is not None and array.shape != tuple(shape):
        raise EdgeIRError(f"expected {what} of shape {tuple(shape)}{' like ' + like if like else ''}, "
                          f"found {array.shape}")
    if min(array.shape) == 0:
        raise EdgeIRError(f"expected {what} with pixels, found shape {array.shape}")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise EdgeIRError(f"expected finite values in {what}, found NaN or infinity")
