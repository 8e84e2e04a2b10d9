"""Frames: whatever a caller hands ``Restorer``, the answer is a correct frame or one
EdgeIRError line, never NaN spreading through the output or values clipped in silence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeir import EdgeIRError
from edgeir.runtimes.restorer import Restorer

from .conftest import IdentityRuntime


@pytest.mark.clear_error
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_pixels_are_refused_and_counted(identity, value):
    frame = np.full((40, 48, 3), 0.5, np.float32)
    frame[3, 4, 1] = value
    frame[5, 6, 0] = value
    with pytest.raises(EdgeIRError, match="found 2 NaN|found 0 NaN and 2 infinite"):
        Restorer(identity).restore(frame)
    assert identity.calls == []


@pytest.mark.clear_error
def test_a_0_to_255_float_frame_is_refused_with_the_fix(identity):
    frame = np.full((40, 48, 3), 200.0, np.float32)
    with pytest.raises(EdgeIRError, match=r"in \[0, 1\], found values in \[200, 200\]: value_range=255.0"):
        Restorer(identity).restore(frame)


@pytest.mark.correct_result
def test_value_range_takes_0_to_255_float_frames_and_returns_them_in_kind(identity):
    frame = np.linspace(0, 255, 40 * 48 * 3, dtype=np.float32).reshape(40, 48, 3)
    out = Restorer(identity, value_range=255.0).restore(frame)
    assert out.dtype == np.float32 and np.allclose(out, frame, atol=1e-3)


@pytest.mark.clear_error
@pytest.mark.parametrize("value_range", [0, -1.0, float("nan"), "255"])
def test_a_bad_value_range_is_refused(identity, value_range):
    with pytest.raises(EdgeIRError, match="positive value_range"):
        Restorer(identity, value_range=value_range)


@pytest.mark.clear_error
def test_a_runtime_refuses_non_finite_tensors(identity):
    x = np.zeros((1, 3, 256, 256), np.float32)
    x[0, 0, 0, 0] = np.nan
    with pytest.raises(EdgeIRError, match="1 NaN or infinite"):
        identity(x)


DTYPES = [np.uint8, np.uint16, np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.bool_,
          np.complex64]


@st.composite
def frames(draw):
    """Frames of any dtype, layout, size, value range and memory layout."""
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    layout = draw(st.sampled_from(["hw", "hw1", "hw3", "hw4", "hw2", "hw5", "chw", "nhwc", "1d"]))
    h, w = draw(st.integers(1, 70)), draw(st.integers(1, 70))
    shape = {"hw": (h, w), "hw1": (h, w, 1), "hw3": (h, w, 3), "hw4": (h, w, 4), "hw2": (h, w, 2),
             "hw5": (h, w, 5), "chw": (3, h, w), "nhwc": (1, h, w, 3), "1d": (h * w,)}[layout]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1.0, 255.0, 65535.0, 1.5]))
    if dtype.kind == "f":
        with np.errstate(over="ignore"):  # 65535 overflows float16 to inf: a case in itself
            data = (rng.random(shape) * scale).astype(dtype)
        if draw(st.booleans()) and data.size:
            data.flat[int(rng.integers(data.size))] = draw(st.sampled_from([np.nan, np.inf, -1.0]))
    elif dtype.kind == "c":
        data = rng.random(shape).astype(dtype)
    elif dtype.kind == "b":
        data = rng.random(shape) > 0.5
    else:
        info = np.iinfo(dtype)
        data = rng.integers(max(info.min, 0), min(info.max, 65535), shape, endpoint=True).astype(dtype)
    if draw(st.booleans()) and data.ndim >= 2:  # a strided view: every other row, or transposed
        data = data[::2] if draw(st.booleans()) else np.swapaxes(data, 0, 1)
    return data


def _expected_ok(frame: np.ndarray) -> bool:
    layout_ok = frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] in (1, 3, 4))
    if not layout_ok or frame.dtype.kind not in "uf" or frame.dtype.kind == "u" and frame.dtype.itemsize > 2:
        return False
    if frame.dtype.kind == "f":
        colour = frame[:, :, :3] if frame.ndim == 3 and frame.shape[2] == 4 else frame
        return bool(np.isfinite(colour).all() and colour.min() >= 0 and colour.max() <= 1)
    return True


@pytest.mark.correct_result
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frames())
def test_any_frame_gives_a_correct_frame_or_one_clear_line(frame):
    """The identity runtime makes the right answer known: the frame itself, in its own
    dtype and layout (up to rounding, and gray planes averaged back)."""
    restorer = Restorer(IdentityRuntime())
    if not _expected_ok(frame):
        with pytest.raises(EdgeIRError) as error:
            restorer.restore(frame)
        assert "\n" not in str(error.value)
        return
    out = restorer.restore(frame)
    assert out.shape == frame.shape and out.dtype == frame.dtype
    tolerance = 1e-3 if frame.dtype == np.float16 else 1e-5 if frame.dtype.kind == "f" else 1
    assert np.allclose(out.astype(np.float64), frame.astype(np.float64), atol=tolerance, equal_nan=True)  # alpha passes through as it is
