"""Videos: a damaged file is an error that says how many frames were read, and no
shortened video is left under the output's name."""

from __future__ import annotations

import numpy as np
import pytest

from edgeir import EdgeIRError

pytest.importorskip("cv2", reason="the video extra is not installed")


def _video(path, count=12):
    from edgeir.data.io import VideoWriter

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
    from edgeir.data.io import VideoReader
    from edgeir.run import restore_files
    from edgeir.runtimes.restorer import Restorer

    src = _video(tmp_path / "in.avi")
    report = restore_files(Restorer(identity), src, tmp_path / "out.avi")
    assert report.frames == 12
    with VideoReader(tmp_path / "out.avi") as reader:
        assert reader.frame_count == 12 and sum(1 for _ in reader) == 12
