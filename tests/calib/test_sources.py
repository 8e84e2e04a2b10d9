"""Calibration sources on small generated data, prepared as the runtime prepares frames."""

import numpy as np
import pytest

from edgeir import EdgeIRError, cli
from edgeir.calib import CalibrationSet, from_images, from_synthetic, from_video, open_calibration
from edgeir.runtimes.frames import to_chw

pytest.importorskip("cv2", reason="the video extra is not installed")
from edgeir.data.io import write_image  # noqa: E402
from edgeir.data.video import VideoWriter  # noqa: E402

SIZE = (256, 256)


@pytest.fixture()
def folder(tmp_path):
    rng = np.random.default_rng(0)
    images = tmp_path / "frames"
    images.mkdir()
    frames = {
        "a.png": rng.integers(0, 256, (256, 256, 3), dtype=np.uint8),
        "b.png": rng.integers(0, 65536, (256, 256), dtype=np.uint16),  # 16-bit gray
        "c.png": rng.integers(0, 256, (256, 256, 4), dtype=np.uint8),  # alpha
    }
    for name, frame in frames.items():
        write_image(images / name, frame)
    return images, frames


def test_images_use_the_runtime_preprocessing(folder):
    images, frames = folder
    calib = from_images(images, SIZE, count=3)
    assert calib.frames.shape == (3, 3, 256, 256) and calib.frames.dtype == np.float32
    expected = [to_chw(frame)[0] for frame in frames.values()]
    for frame in calib.frames:  # a seeded order; each file exactly once
        assert sum(np.array_equal(frame, e) for e in expected) == 1
    bgr = from_images(images, SIZE, count=3, color="bgr")
    assert {tuple(np.flatnonzero([np.array_equal(f, to_chw(x, "bgr")[0]) for x in frames.values()]))
            for f in bgr.frames} == {(0,), (1,), (2,)}


def test_crops_are_seeded_and_inside_larger_frames(tmp_path):
    rng = np.random.default_rng(1)
    big = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
    (tmp_path / "big").mkdir()
    write_image(tmp_path / "big" / "x.png", big)
    first = from_images(tmp_path / "big", SIZE, count=1, seed=3)
    assert np.array_equal(first.frames, from_images(tmp_path / "big", SIZE, count=1, seed=3).frames)
    source = to_chw(big)[0]
    found = [(y, x) for y in range(45) for x in range(145)
             if np.array_equal(source[:, y : y + 256, x : x + 256], first.frames[0])]
    assert len(found) == 1


def test_image_errors(folder, tmp_path):
    images, _ = folder
    (images / "broken.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(EdgeIRError, match="at least 5 readable images .* found 3 \\(1 unreadable: broken.png\\)"):
        from_images(images, SIZE, count=5)
    with pytest.raises(EdgeIRError, match="at least 320x320 .* found 256x256"):
        from_images(images, (320, 320), count=1)
    with pytest.raises(EdgeIRError, match="found nothing at"):
        from_images(tmp_path / "missing", SIZE)
    with pytest.raises(EdgeIRError, match="at least 1 calibration frame"):
        from_images(images, SIZE, count=0)


def test_video_frames_are_evenly_spaced(tmp_path):
    path = tmp_path / "clip.avi"
    with VideoWriter(path, fps=10) as writer:
        for value in range(0, 250, 25):  # 10 frames of distinct flat grey levels
            writer.write(np.full((256, 320, 3), value, np.uint8))
    calib = from_video(path, SIZE, count=4)
    levels = [round(float(f.mean()) * 255 / 25) * 25 for f in calib.frames]
    assert levels == [0, 75, 150, 225]  # frames 0, 3, 6, 9
    with pytest.raises(EdgeIRError, match="at least 11 frames in .* found 10"):
        from_video(path, SIZE, count=11)


def test_synthetic_is_the_calib_split():
    from edgeir.data.synthetic import SyntheticBlur

    calib = from_synthetic(SIZE, count=8)
    assert len(calib) == 8
    blurred, _ = SyntheticBlur("calib", SIZE, length=8)[5]
    assert np.array_equal(calib.frames[5], to_chw(blurred)[0])


def test_npz_round_trip_split_and_size_check(tmp_path):
    calib = from_synthetic(SIZE, count=4)
    path = calib.save(tmp_path / "calib.npz")
    loaded = open_calibration(path, SIZE)
    assert np.array_equal(loaded.frames, calib.frames) and loaded.source == calib.source
    fit, held_out = loaded.split(1)
    assert len(fit) == 3 and np.array_equal(held_out.frames[0], calib.frames[3])
    assert [b.shape[0] for b in loaded.batches(3)] == [3, 1]
    with pytest.raises(EdgeIRError, match="frames of 288x288 .* found 256x256"):
        open_calibration(path, (288, 288))
    with pytest.raises(EdgeIRError, match="more calibration frames than the 4 held out"):
        loaded.split(4)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(EdgeIRError, match="not one"):
        CalibrationSet.load(tmp_path / "bad.npz")
    with pytest.raises(EdgeIRError, match="expected a calibration source"):
        open_calibration(tmp_path / "nothing.txt", SIZE)


def test_cli(tmp_path, folder, capsys):
    images, _ = folder
    out = tmp_path / "calib.npz"
    assert cli.main(["calib", "--images", str(images), "--calib-frames", "2", "-o", str(out)]) == 0
    assert "2 calibration frame(s) of 256x256" in capsys.readouterr().out
    assert len(CalibrationSet.load(out)) == 2
    assert cli.main(["calib", "--synthetic", "2", "-o", str(out)]) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert cli.main(["calib", "--synthetic", "2", "--calib-frames", "3", "-o", str(tmp_path / "x.npz")]) == 1
    assert "found --synthetic 2 and --calib-frames 3" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()


def test_pairs_keep_their_sharp_targets(tmp_path):
    from edgeir.calib import from_pairs

    rng = np.random.default_rng(2)
    for scene in ("s1", "s2"):
        for side in ("blur", "sharp"):
            (tmp_path / scene / side).mkdir(parents=True)
        sharp = rng.integers(0, 256, (288, 320, 3), dtype=np.uint8)
        write_image(tmp_path / scene / "sharp" / "0001.png", sharp)
        write_image(tmp_path / scene / "blur" / "0001.png", 255 - sharp)
    calib = from_pairs(f"gopro:{tmp_path}", SIZE, count=2)
    assert calib.targets is not None and calib.targets.shape == calib.frames.shape
    assert np.allclose(calib.frames + calib.targets, 1.0)  # the same window of both
    fit, held_out = calib.split(1)
    assert np.array_equal(held_out.targets[0], calib.targets[1])
    with pytest.raises(EdgeIRError, match="at least 3 blurred frames"):
        from_pairs(f"gopro:{tmp_path}", SIZE, count=3)


def test_synthetic_targets_survive_saving(tmp_path):
    calib = from_synthetic(SIZE, count=2)
    loaded = CalibrationSet.load(calib.save(tmp_path / "c.npz"))
    assert np.array_equal(loaded.targets, calib.targets) and not np.array_equal(loaded.targets, loaded.frames)
    images = CalibrationSet(calib.frames, "x")
    assert CalibrationSet.load(images.save(tmp_path / "i.npz")).targets is None
