"""Frames: whatever a caller hands ``Restorer``, the answer is a correct frame or one
EdgeIRError line, never NaN spreading through the output or values clipped in silence; and
whatever image file it is handed, its size is read from the header and checked before any
decoder runs (a 1 MB PNG can decode to gigabytes)."""

from __future__ import annotations

import re
from pathlib import Path

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


# --- image files: the size comes from the header and is checked before anything decodes --

BOMB_SIDE = 20000


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    """A 1.2 MB PNG of 20000x20000 RGB zeros: 1.2 GB decoded, 4.8 GB as Restorer's floats."""
    from .hostile import png_bomb

    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(png_bomb(BOMB_SIDE, BOMB_SIDE, channels=3))
    return path


@pytest.fixture
def bomb_never_decoded(monkeypatch, bomb):
    """OpenCV and Pillow fail the test at once if asked to decode the bomb, rather than take
    gigabytes and a minute (as they did before the header was read first)."""
    import cv2
    from PIL import ImageFile

    import edgeir.data.io as image_io

    head = bomb.read_bytes()[:33]  # the signature and IHDR: the size

    class NoBomb:
        def __getattr__(self, name):
            return getattr(cv2, name)

        def imread(self, path, *args):
            assert Path(path).read_bytes()[:33] != head, "OpenCV was asked to decode the bomb"
            return cv2.imread(path, *args)

        def imdecode(self, buffer, *args):
            assert bytes(buffer[:33]) != head, "OpenCV was asked to decode the bomb"
            return cv2.imdecode(buffer, *args)

    load = ImageFile.ImageFile.load

    def guarded_load(self):
        assert self.size != (BOMB_SIDE, BOMB_SIDE), "Pillow was asked to decode the bomb"
        return load(self)

    monkeypatch.setattr(image_io, "cv2", NoBomb)
    monkeypatch.setattr(ImageFile.ImageFile, "load", guarded_load)


@pytest.fixture(params=["cv2", "PIL"])
def library(request, monkeypatch):
    """Both ways of reading images: OpenCV where installed, Pillow on a device without it."""
    pytest.importorskip(request.param, reason=f"{request.param} is not installed")
    import edgeir.data.io as image_io

    monkeypatch.setattr(image_io, "image_library", lambda: request.param)
    return request.param


LIMIT_LINE = r"expected an image of at most 67108864 pixels \(EDGEIR_MAX_IMAGE_PIXELS raises the limit\), "


@pytest.mark.clear_error
def test_a_png_bomb_file_is_refused_from_its_header(bomb, bomb_never_decoded, library):
    from edgeir.data.io import read_image

    with pytest.raises(EdgeIRError, match=LIMIT_LINE + rf"found 20000x20000 in {re.escape(str(bomb))}$") as error:
        read_image(bomb)
    assert type(error.value).__name__ == "ImageTooLarge"  # 413 over HTTP


@pytest.mark.clear_error
def test_png_bomb_bytes_are_refused_from_their_header(bomb, bomb_never_decoded, library):
    from edgeir.data.io import decode_image

    assert bomb.stat().st_size < 2 * 2**20
    with pytest.raises(EdgeIRError, match=LIMIT_LINE + "found 20000x20000 in the image bytes$"):
        decode_image(bomb.read_bytes())


WEBP_HEADERS = {
    # RIFF, size, WEBP, then the first chunk: an extended canvas, a lossy frame, a lossless one
    "VP8X": b"RIFF\x00\x00\x10\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00"
            + (19999).to_bytes(3, "little") + (19999).to_bytes(3, "little"),
    "VP8": b"RIFF\x00\x00\x10\x00WEBPVP8 \x00\x00\x10\x00\x00\x00\x00\x9d\x01\x2a"
           + (16383).to_bytes(2, "little") + (16383).to_bytes(2, "little"),
    "VP8L": b"RIFF\x00\x00\x10\x00WEBPVP8L\x00\x00\x10\x00\x2f"
            + (16382 | 16382 << 14).to_bytes(4, "little") + b"\x00",
}
"""Headers declaring a WebP larger than the limit. Pillow's WebP plugin allocates the canvas
while it opens the file, so these must be refused before Pillow sees them."""


@pytest.mark.clear_error
@pytest.mark.parametrize("chunk", WEBP_HEADERS)
def test_a_webp_header_over_the_limit_is_refused_before_pillow_opens_it(monkeypatch, chunk):
    from PIL import Image

    from edgeir.data.io import decode_image

    def no_open(*args, **kwargs):
        raise AssertionError("Pillow was asked to open the WebP bomb")

    monkeypatch.setattr(Image, "open", no_open)
    side = "20000x20000" if chunk == "VP8X" else "16383x16383"
    with pytest.raises(EdgeIRError, match=LIMIT_LINE + f"found {side} in the image bytes$"):
        decode_image(WEBP_HEADERS[chunk] + bytes(64))


@pytest.mark.clear_error
def test_edgeir_run_skips_the_bomb_in_one_line_and_restores_the_rest(tmp_path, bomb, bomb_never_decoded,
                                                                     identity):
    import shutil

    from edgeir.data.io import write_image
    from edgeir.run import restore_files

    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(bomb, inputs / "a_bomb.png")
    write_image(inputs / "b_photo.png", np.full((40, 48, 3), 90, np.uint8))
    report = restore_files(Restorer(identity), inputs, tmp_path / "out")
    assert [(p.name, why.split(": ", 1)[0]) for p, why in report.failed] == [("a_bomb.png", "unreadable")]
    assert re.search(LIMIT_LINE + "found 20000x20000 in .*a_bomb.png$", report.failed[0][1])
    assert [p.name for p in report.written] == ["b_photo.png"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b_photo.png"]


@pytest.mark.correct_result
def test_the_pixel_limit_is_the_users_to_set(tmp_path, monkeypatch, library):
    from edgeir.data.io import read_image, write_image

    write_image(tmp_path / "small.png", np.zeros((20, 30), np.uint8))
    write_image(tmp_path / "larger.png", np.zeros((20, 31), np.uint8))
    monkeypatch.setenv("EDGEIR_MAX_IMAGE_PIXELS", "600")
    assert read_image(tmp_path / "small.png").shape == (20, 30)
    with pytest.raises(EdgeIRError, match=r"at most 600 pixels .*found 31x20 in .*larger.png$"):
        read_image(tmp_path / "larger.png")


@pytest.mark.clear_error
@pytest.mark.parametrize("value", ["many", "-5", "0", "1e9"])
def test_a_bad_pixel_limit_is_one_line(tmp_path, monkeypatch, value):
    from edgeir.data.io import read_image, write_image

    write_image(tmp_path / "small.png", np.zeros((20, 30), np.uint8))
    monkeypatch.setenv("EDGEIR_MAX_IMAGE_PIXELS", value)
    with pytest.raises(EdgeIRError, match=rf"expected EDGEIR_MAX_IMAGE_PIXELS to be a whole number of pixels "
                                          rf"\(e.g. 67108864\), found '{re.escape(value)}'$"):
        read_image(tmp_path / "small.png")


@pytest.mark.correct_result
def test_pillows_own_guard_gives_way_to_edgeirs_limit_and_comes_back(tmp_path, monkeypatch, library):
    """Pillow's guard (``PIL.Image.MAX_IMAGE_PIXELS``) refuses without the size at its own
    limit: it is set aside while edgeir reads a header, and put back."""
    from PIL import Image

    from edgeir.data.io import read_image, write_image

    write_image(tmp_path / "photo.png", np.full((30, 40, 3), 7, np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert read_image(tmp_path / "photo.png").shape == (30, 40, 3)
    assert Image.MAX_IMAGE_PIXELS == 100


@pytest.mark.correct_result
def test_opencv_reads_a_png_without_pillow_decoding_it_too(tmp_path, monkeypatch):
    """The EXIF orientation comes from the header: Pillow's ``getexif`` on a PNG used to
    decode the whole image a second time."""
    from PIL import ImageFile

    from edgeir.data.io import read_image, write_image

    frame = np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    write_image(tmp_path / "photo.png", frame)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("Pillow decoded the PNG"))
    assert np.array_equal(read_image(tmp_path / "photo.png"), frame)
