"""Videos: a damaged file is an error that says how many frames were read, and no
shortened video is left under the output's name; a video whose frame size changes
mid-stream is refused naming the frame, not restored rescaled."""

from __future__ import annotations

import numpy as np
import pytest

from edgeir import EdgeIRError

pytest.importorskip("cv2", reason="the video extra is not installed")


def _video(path, count=12):
    from edgeir.data.video import VideoWriter

    rng = np.random.default_rng(0)
    with VideoWriter(path, 10.0) as writer:
        for _ in range(count):
            writer.write(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8))
    return path


def _damage(path, how):
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    else:  # zeros over a sixth of the file, a third of the way in
        n = len(data)
        data[n // 3 : n // 3 + n // 6] = bytes(n // 6)
        path.write_bytes(bytes(data))
    return path


@pytest.mark.clear_error
@pytest.mark.parametrize("how", ["truncated", "middle"])
@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_a_damaged_video_is_an_error_and_nothing_is_kept(tmp_path, identity, how, suffix):
    from edgeir.run import restore_files
    from edgeir.runtimes.restorer import Restorer

    src = _damage(_video(tmp_path / f"in{suffix}"), how)
    out = tmp_path / "out" / f"restored{suffix}"
    with pytest.raises(EdgeIRError, match=r"could read only \d+|could not open"):
        restore_files(Restorer(identity), src, out)
    assert not out.exists() and not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


@pytest.mark.correct_result
def test_a_whole_video_keeps_every_frame(tmp_path, identity):
    from edgeir.data.video import VideoReader
    from edgeir.run import restore_files
    from edgeir.runtimes.restorer import Restorer

    src = _video(tmp_path / "in.avi")
    report = restore_files(Restorer(identity), src, tmp_path / "out.avi")
    assert report.frames == 12
    with VideoReader(tmp_path / "out.avi") as reader:
        assert reader.frame_count == 12 and sum(1 for _ in reader) == 12


def _mjpeg(path, sizes):
    """A hand-written MJPEG AVI with a frame of each (height, width) in ``sizes``."""
    from .hostile import mjpeg_avi

    rng = np.random.default_rng(1)
    path.write_bytes(mjpeg_avi([rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]))
    return path


@pytest.mark.clear_error
def test_a_video_whose_frame_size_changes_is_refused_naming_the_frame(tmp_path, identity):
    """OpenCV rescales frames 4 to 6 to 96x64 without a word (and reports 96x64 throughout);
    edgeir reads each frame's size from its JPEG header and refuses the video."""
    from edgeir.run import restore_files
    from edgeir.runtimes.restorer import Restorer

    src = _mjpeg(tmp_path / "camera.avi", [(64, 96)] * 4 + [(128, 160)] * 3)
    out = tmp_path / "out" / "camera.avi"
    with pytest.raises(EdgeIRError, match=r"expected frames of one size in .*camera.avi, found frame 4 at "
                                          r"160x128 where the video is 96x64: OpenCV would rescale it, so "
                                          r"edgeir refuses the video") as error:
        restore_files(Restorer(identity), src, out)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())  # nothing half-written


@pytest.mark.clear_error
def test_a_size_change_is_seen_after_a_seek_too(tmp_path):
    from edgeir.data.video import VideoReader

    src = _mjpeg(tmp_path / "camera.avi", [(64, 96)] * 4 + [(128, 160)] * 3)
    with VideoReader(src) as reader:
        reader.seek(5)
        with pytest.raises(EdgeIRError, match="found frame 5 at 160x128 where the video is 96x64"):
            next(iter(reader))


@pytest.mark.correct_result
def test_a_one_size_mjpeg_video_reads_whole_and_seeks(tmp_path):
    from edgeir.data.video import VideoReader

    src = _mjpeg(tmp_path / "camera.avi", [(61, 90)] * 6)  # sizes no codec block divides
    with VideoReader(src) as reader:
        assert [f.shape for f in reader] == [(61, 90, 3)] * 6
    with VideoReader(src) as reader:
        reader.seek(4)
        assert len(list(reader)) == 2


@pytest.mark.clear_error
def test_a_video_over_the_pixel_limit_is_refused_before_a_frame_is_decoded(tmp_path, monkeypatch):
    """Any codec: the container's frame size is checked against the image limit at open (a
    16K video would otherwise be decoded frame by frame into gigabytes)."""
    from edgeir.data.io import MAX_PIXELS_ENV
    from edgeir.data.video import VideoReader

    src = _video(tmp_path / "clip.mp4", count=2)
    monkeypatch.setenv(MAX_PIXELS_ENV, str(96 * 64 - 1))
    with pytest.raises(EdgeIRError, match=rf"at most 6143 pixels .*found 96x64 in the frames of {src}$"):
        VideoReader(src)
