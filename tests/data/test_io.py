import sys

import numpy as np
import pytest

from edgeir import EdgeIRError
from edgeir.data.io import read_image, write_image
from edgeir.data.video import VideoReader, VideoWriter

pytest.importorskip("cv2", reason="the video extra is not installed")


@pytest.mark.parametrize(
    "frame",
    [
        np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8),
        np.random.default_rng(1).integers(0, 65536, (20, 30, 3), dtype=np.uint16),
        np.random.default_rng(2).integers(0, 256, (20, 30), dtype=np.uint8),
        np.random.default_rng(3).integers(0, 256, (20, 30, 4), dtype=np.uint8),
    ],
    ids=["rgb8", "rgb16", "gray", "rgba"],
)
def test_png_round_trip_keeps_rgb_order_and_depth(tmp_path, frame):
    path = tmp_path / "frame.png"
    write_image(path, frame)
    back = read_image(path)
    assert back.dtype == frame.dtype and np.array_equal(back, frame)
    assert [p.name for p in tmp_path.iterdir()] == ["frame.png"]


def test_rgb_order_on_disk(tmp_path):
    import cv2

    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    write_image(tmp_path / "red.png", red)
    assert cv2.imread(str(tmp_path / "red.png"))[0, 0].tolist() == [0, 0, 255]  # OpenCV is BGR


def test_unreadable_image(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(EdgeIRError, match="could not read .*bad.png"):
        read_image(bad)


def test_video_round_trip(tmp_path):
    path = tmp_path / "clip.avi"
    frames = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(5)]
    with VideoWriter(path, fps=12) as writer:
        for frame in frames:
            writer.write(frame)
    with VideoReader(path) as reader:
        back = list(reader)
        assert reader.fps == pytest.approx(12)
    assert len(back) == 5 and back[0].shape == (48, 64, 3)
    assert all(abs(int(b.mean()) - int(f.mean())) <= 3 for b, f in zip(back, frames))


def test_failed_video_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), VideoWriter(tmp_path / "clip.mp4", fps=10) as writer:
        writer.write(np.zeros((32, 32, 3), np.uint8))
        raise RuntimeError("camera unplugged")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(EdgeIRError, match="found none"), VideoWriter(tmp_path / "empty.mp4", fps=10):
        pass
    assert list(tmp_path.iterdir()) == []


def test_unreadable_video(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"no video here")
    with pytest.raises(EdgeIRError, match="could not open"):
        VideoReader(bad)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied(tmp_path, orientation):
    from PIL import Image

    upright = np.zeros((40, 60, 3), np.uint8)
    upright[:10, :20] = 255  # a white block top-left marks the orientation
    stored = {3: np.rot90(upright, 2), 6: np.rot90(upright, 1), 8: np.rot90(upright, -1)}[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.jpg"
    Image.fromarray(np.ascontiguousarray(stored)).save(path, exif=exif, quality=100)
    back = read_image(path)
    assert back.shape == upright.shape
    assert back[:10, :20].mean() > 200 and back[-10:, -20:].mean() < 50


def test_sixteen_bit_to_jpeg_is_rounded_to_eight(tmp_path):
    frame = np.full((16, 16, 3), 30000, np.uint16)
    write_image(tmp_path / "x.jpg", frame)
    back = read_image(tmp_path / "x.jpg")
    assert back.dtype == np.uint8 and abs(int(back.mean()) - round(30000 / 257)) <= 2


@pytest.fixture
def pillow_only(monkeypatch):
    """A device install with Pillow (the images extra) and no OpenCV."""
    pytest.importorskip("PIL", reason="the images extra is not installed")
    from edgeir.data import io

    monkeypatch.setattr(io, "image_library", lambda: "PIL")
    monkeypatch.setattr(io, "cv2", lambda: pytest.fail("OpenCV used where only Pillow is installed"))


@pytest.mark.parametrize(
    "frame",
    [
        np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8),
        np.random.default_rng(2).integers(0, 256, (20, 30), dtype=np.uint8),
        np.random.default_rng(3).integers(0, 256, (20, 30, 4), dtype=np.uint8),
        np.random.default_rng(4).integers(0, 65536, (20, 30), dtype=np.uint16),
    ],
    ids=["rgb8", "gray", "rgba", "gray16"],
)
def test_pillow_round_trip_without_opencv(tmp_path, pillow_only, frame):
    path = tmp_path / "frame.png"
    write_image(path, frame)
    back = read_image(path)
    assert back.dtype == frame.dtype and np.array_equal(back, frame)
    assert [p.name for p in tmp_path.iterdir()] == ["frame.png"]


def test_pillow_refuses_16_bit_colour_and_unreadable_files(tmp_path, pillow_only):
    with pytest.raises(EdgeIRError, match="expected OpenCV to write the 16-bit colour image x.png"):
        write_image(tmp_path / "x.png", np.zeros((4, 4, 3), np.uint16))
    assert list(tmp_path.iterdir()) == []
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(EdgeIRError, match="could not read .*bad.png"):
        read_image(bad)


def test_neither_library_names_the_extra(monkeypatch):
    import importlib.util

    from edgeir.data import io

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    for name in ("cv2", "PIL"):  # imported by earlier tests: image_library looks there first
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(EdgeIRError, match=r'needs OpenCV or Pillow, found neither: pip install "edgeir\[images\]"'):
        io.image_library()
