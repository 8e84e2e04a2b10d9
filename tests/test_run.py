"""``edgeir run`` on generated images, a folder with a corrupt file, and a video."""

import numpy as np
import pytest

from edgeir import cli
from edgeir.data.io import read_image, write_image
from edgeir.data.video import VideoReader, VideoWriter

pytest.importorskip("cv2", reason="the video extra is not installed")


@pytest.fixture()
def inputs(tmp_path):
    rng = np.random.default_rng(0)
    write_image(tmp_path / "single.png", rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    folder = tmp_path / "frames"
    folder.mkdir()
    write_image(folder / "a.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    write_image(folder / "b.png", rng.integers(0, 65536, (32, 48), dtype=np.uint16))
    (folder / "corrupt.png").write_bytes(b"\x89PNG broken")
    (folder / "notes.txt").write_text("not an image")
    with VideoWriter(tmp_path / "clip.avi", fps=10) as writer:
        for i in range(4):
            writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    return tmp_path


def test_run_image(exported_s, inputs, capsys):
    out = inputs / "restored.png"
    assert cli.main(["run", str(exported_s.artifact), str(inputs / "single.png"), "-o", str(out)]) == 0
    assert read_image(out).shape == (40, 50, 3)
    assert "restored 1 frame(s) with onnxruntime (fp32" in capsys.readouterr().out


def test_run_folder_skips_the_corrupt_file(random_checkpoint, inputs, capsys):
    out = inputs / "restored"
    code = cli.main(["run", str(random_checkpoint), str(inputs / "frames"), "-o", str(out), "--batch", "2"])
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    assert read_image(out / "b.png").dtype == np.uint16
    assert "corrupt.png" in capsys.readouterr().err


def test_run_video(exported_s, inputs):
    out = inputs / "restored.avi"
    assert cli.main(["run", str(exported_s.artifact), str(inputs / "clip.avi"), "-o", str(out), "--batch", "3"]) == 0
    with VideoReader(out) as reader:
        frames = list(reader)
    assert len(frames) == 4 and frames[0].shape == (48, 64, 3)


def test_nothing_is_overwritten(exported_s, inputs, capsys):
    target = inputs / "single_out.png"
    target.write_bytes(b"keep me")
    args = ["run", str(exported_s.artifact), str(inputs / "single.png"), "-o", str(target)]
    assert cli.main(args) == 1
    assert target.read_bytes() == b"keep me"
    assert "or --overwrite to replace" in capsys.readouterr().err
    assert cli.main([*args, "--overwrite"]) == 0
    assert read_image(target).shape == (40, 50, 3)


@pytest.mark.parametrize(
    ("source", "output", "message"),
    [
        ("missing.png", "x.png", "found nothing at"),
        ("single.png", "x.mp4", "expected an image output path"),
        ("clip.avi", "x.png", "expected a video output path"),
    ],
)
def test_bad_paths(exported_s, inputs, capsys, source, output, message):
    args = ["run", str(exported_s.artifact), str(inputs / source), "-o", str(inputs / output)]
    assert cli.main(args) == 1
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "weights"),
    [("convir-s", "demo weights trained on synthetic blur, not GoPro"),
     ("convir-b", "random initialisation of ConvIR-B")],
)
def test_run_by_name_says_which_weights(name, weights, inputs, capsys):
    out = inputs / "restored.png"
    assert cli.main(["run", name, str(inputs / "single.png"), "-o", str(out)]) == 0
    assert read_image(out).shape == (40, 50, 3)
    printed = capsys.readouterr().out
    assert "restored 1 frame(s) with torch" in printed and f"weights  {weights}" in printed


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A residual 3x3 convolution in ONNX: restores in milliseconds."""
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    from tests.runtimes.tiny_conv import residual

    return residual(tmp_path_factory.mktemp("model") / "tiny.onnx")


def test_run_video_equals_restoring_batch_by_batch(tiny, inputs, tmp_path):
    """The pipelined run writes what restoring the frames batch by batch writes."""
    from edgeir import Restorer

    out = tmp_path / "restored.avi"
    assert cli.main(["run", str(tiny), str(inputs / "clip.avi"), "-o", str(out), "--batch", "3"]) == 0
    restorer = Restorer(str(tiny), batch=3)
    with VideoReader(inputs / "clip.avi") as reader, VideoWriter(tmp_path / "expected.avi", reader.fps) as writer:
        for batch in reader.batches(3):
            for restored in restorer.restore_batch(batch):
                writer.write(restored)
    with VideoReader(out) as got, VideoReader(tmp_path / "expected.avi") as expected:
        pairs = list(zip(got, expected, strict=True))
    assert len(pairs) == 4 and all(np.array_equal(a, b) for a, b in pairs)


def test_run_folder_equals_restoring_image_by_image(tiny, inputs, capsys):
    from edgeir import Restorer

    out = inputs / "restored"
    assert cli.main(["run", str(tiny), str(inputs / "frames"), "-o", str(out), "--batch", "2"]) == 1
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    restorer = Restorer(str(tiny), batch=2)
    for name in ("a.png", "b.png"):
        expected = restorer.restore(read_image(inputs / "frames" / name))
        got = read_image(out / name)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)
    err = capsys.readouterr().err
    # once, as unreadable (not as too large or refused by the model), and the count of what was restored
    (line,) = [line for line in err.splitlines() if "corrupt.png" in line]
    assert line.startswith("edgeir: skipped") and "corrupt.png: unreadable: " in line
    assert "edgeir: error: 1 input(s) skipped (1 unreadable); 2 frame(s) restored" in err


def test_a_frame_the_model_refuses_is_reported_once_and_the_run_goes_on(tiny, tmp_path):
    """An image that fails inside the model ends one stream; the next image starts another."""
    from edgeir import EdgeIRError, Restorer
    from edgeir.run import restore_files
    from edgeir.runtimes import load
    from tests.runtimes.test_stream import Recording

    class RefusingWide(Recording):
        def _run(self, x):
            if x.shape[3] == 288:
                raise EdgeIRError("expected a narrow frame, found a wide one")
            return super()._run(x)

    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(2)
    for name, shape in [("a.png", (40, 50, 3)), ("b.png", (40, 270, 3)), ("c.png", (60, 60, 3)),
                        ("d.png", (40, 280, 3)), ("e.png", (30, 30, 3))]:
        write_image(folder / name, rng.integers(0, 256, shape, dtype=np.uint8))
    report = restore_files(Restorer(RefusingWide(load(tiny, device="cpu"))), folder, tmp_path / "out")
    assert [p.name for p in report.written] == ["a.png", "c.png", "e.png"] and report.frames == 3
    refused = "not restored: expected a narrow frame, found a wide one"
    assert [(p.name, reason) for p, reason in report.failed] == [("b.png", refused), ("d.png", refused)]


def test_the_tiles_of_a_large_image_show_their_progress(tiny, tmp_path):
    from edgeir import Restorer
    from edgeir.run import restore_files

    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "big.png", np.random.default_rng(3).integers(0, 256, (300, 600, 3), dtype=np.uint8))
    seen = []

    def on_tiles(done, total):
        seen.append((done, total))

    restorer = Restorer(str(tiny), tile=256, overlap=32, batch=2, on_tiles=on_tiles)
    report = restore_files(restorer, folder, tmp_path / "out")  # its bar shows them too
    assert report.frames == 1 and seen == [(2, 6), (4, 6), (6, 6)]  # 2 x 3 tiles, two per call
    assert restorer.on_tiles is on_tiles
