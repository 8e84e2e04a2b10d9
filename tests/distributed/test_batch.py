"""``edgeir run --ray`` on a local Ray (2 CPUs, loopback): the same outputs as a serial run,
through a killed worker and a resumed run."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="the ray extra is not installed")
pytest.importorskip("cv2", reason="the video extra is not installed")

from edgeir import cli  # noqa: E402
from edgeir.data.io import read_image, write_image  # noqa: E402
from edgeir.data.video import VideoReader, VideoWriter  # noqa: E402
from edgeir.distributed.batch import RayOptions, restore_on_ray  # noqa: E402
from edgeir.distributed.work import frame_ranges, parts_folder, plan_video  # noqa: E402
from edgeir.distributed.worker import RestoreOptions  # noqa: E402
from edgeir.errors import EdgeIRError  # noqa: E402
from edgeir.run import restore_files  # noqa: E402
from edgeir.runtimes.restorer import Restorer  # noqa: E402
from tests.runtimes.tiny_conv import residual as tiny_onnx  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    """edgeir's own local Ray (loopback, a token of its own, nothing written under $HOME)."""
    from edgeir.distributed.cluster import ray_cluster

    with ray_cluster(None, num_cpus=2):
        yield ray


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """40 images (8- and 16-bit, gray, RGBA, JPEG, odd sizes), one unreadable file, and a
    60-frame video."""
    root = tmp_path_factory.mktemp("collection")
    images = root / "images"
    images.mkdir()
    rng = np.random.default_rng(1)
    for i in range(40):
        h, w = 40 + 7 * (i % 5), 50 + 5 * (i % 3)
        if i % 10 == 3:
            frame, name = rng.integers(0, 65535, (h, w, 3), dtype=np.uint16), f"deep_{i:02d}.png"
        elif i % 10 == 5:
            frame, name = rng.integers(0, 255, (h, w), dtype=np.uint8), f"gray_{i:02d}.png"
        elif i % 10 == 7:
            frame, name = rng.integers(0, 255, (h, w, 4), dtype=np.uint8), f"alpha_{i:02d}.png"
        elif i % 10 == 9:
            frame, name = rng.integers(0, 255, (h, w, 3), dtype=np.uint8), f"photo_{i:02d}.jpg"
        else:
            frame, name = rng.integers(0, 255, (h, w, 3), dtype=np.uint8), f"frame_{i:02d}.png"
        write_image(images / name, frame)
    (images / "broken.png").write_bytes(b"not a png")
    video = root / "clip.avi"
    with VideoWriter(video, 12.0) as writer:
        for i in range(60):
            writer.write(np.full((48, 64, 3), (i * 4) % 255, dtype=np.uint8)
                         + rng.integers(0, 20, (48, 64, 3), dtype=np.uint8))
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("onnxruntime", reason="the ort extra is not installed")
    return tiny_onnx(tmp_path_factory.mktemp("model") / "tiny.onnx")


def frames_of(video: Path) -> list[np.ndarray]:
    with VideoReader(video) as reader:
        return list(reader)


def assert_same_outputs(serial: Path, distributed: Path) -> None:
    names = sorted(p.name for p in serial.iterdir() if not p.name.startswith("."))
    assert names == sorted(p.name for p in distributed.iterdir() if not p.name.startswith("."))
    for name in names:
        a, b = read_image(serial / name), read_image(distributed / name)
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b), name


def test_folder_and_video_equal_a_serial_run(local_ray, collection, tiny, tmp_path):
    serial = restore_files(Restorer(str(tiny), batch=4), [collection / "images", collection / "clip.avi"],
                           tmp_path / "serial")
    report, facts = restore_on_ray(
        RestoreOptions(str(tiny), batch=4), [collection / "images", collection / "clip.avi"], tmp_path / "ray",
        RayOptions(workers=2, frames_per_part=10))
    assert facts["backend"] == "onnxruntime"
    assert [p.name for p, _ in report.failed] == [p.name for p, _ in serial.failed] == ["broken.png"]
    assert report.frames == serial.frames == 40 + 60
    assert len(report.workers) == 2 and sum(report.workers.values()) == 100  # both workers took work
    video_a, video_b = frames_of(tmp_path / "serial" / "clip.avi"), frames_of(tmp_path / "ray" / "clip.avi")
    assert len(video_a) == len(video_b) == 60
    assert all(np.array_equal(a, b) for a, b in zip(video_a, video_b))
    with VideoReader(tmp_path / "ray" / "clip.avi") as reader:
        assert reader.fps == pytest.approx(12.0)
    (tmp_path / "serial" / "clip.avi").unlink()
    (tmp_path / "ray" / "clip.avi").unlink()
    assert_same_outputs(tmp_path / "serial", tmp_path / "ray")
    assert not parts_folder(tmp_path / "ray" / "clip.avi").exists()  # joined, then removed


def test_a_rerun_restores_only_what_is_missing(local_ray, collection, tiny, tmp_path):
    options, out = RestoreOptions(str(tiny)), tmp_path / "out"
    restore_on_ray(options, collection / "images", out, RayOptions(workers=2))
    missing = sorted(out.iterdir())[::8]
    for path in missing:
        path.unlink()
    stale = out / f".{missing[0].name}.999999999-deadbeef.partial.png"  # left by a killed worker
    stale.write_bytes(b"half")
    before = {p: p.stat().st_mtime_ns for p in out.iterdir() if not p.name.startswith(".")}
    with pytest.raises(EdgeIRError, match="--skip-existing"):
        restore_on_ray(options, collection / "images", out, RayOptions(workers=2))
    report, _ = restore_on_ray(options, collection / "images", out, RayOptions(workers=2), skip_existing=True)
    assert sorted(report.written) == missing
    assert len(report.skipped) == 40 - len(missing)
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())  # kept outputs untouched
    assert not stale.exists()
    serial = tmp_path / "serial"
    restore_files(Restorer(str(tiny)), collection / "images", serial)
    assert_same_outputs(serial, out)


def test_video_parts_of_another_run_are_discarded(collection, tmp_path):
    out = tmp_path / "clip.avi"
    job = plan_video(collection / "clip.avi", out, 16, 1, {"model": "a"})
    assert job.frame_count == 60 and job.ranges == [(0, 16), (16, 32), (32, 48), (48, 60)]
    np.save(job.part_path(0, 16), np.zeros((16, 48, 64, 3), np.uint8))
    kept = plan_video(collection / "clip.avi", out, 16, 1, {"model": "a"})
    assert [(i.start, i.stop) for i in kept.items()] == [(16, 32), (32, 48), (48, 60)]
    other = plan_video(collection / "clip.avi", out, 16, 1, {"model": "b"})
    assert len(other.items()) == 4


def test_ranges_start_where_a_serial_run_starts_a_batch():
    assert frame_ranges(10, 4, 3) == [(0, 6), (6, 10)]
    assert frame_ranges(10, 2, 3) == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert frame_ranges(0, 8, 1) == [(0, -1)]  # a video that does not say its length: one part


def _kill_a_worker_when(out: Path, written: int, killed: list[int]) -> None:
    """SIGKILL one Ray Data worker process once ``written`` outputs exist: a machine lost
    mid-run, with an item in flight."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if out.is_dir() and sum(1 for p in out.iterdir() if not p.name.startswith(".")) >= written:
            for pid in map(int, filter(str.isdigit, os.listdir("/proc"))):
                try:
                    title = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"RestoreWorker" in title:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
        time.sleep(0.05)


def test_a_killed_worker_is_replaced_and_its_work_redone(local_ray, collection, exported_s, tmp_path):
    """ConvIR-S, so that items take long enough for the kill to land mid-run."""
    source = tmp_path / "some"
    source.mkdir()
    for path in sorted((collection / "images").glob("frame_*.png"))[:10]:
        (source / path.name).write_bytes(path.read_bytes())
    out, killed = tmp_path / "out", []
    killer = threading.Thread(target=_kill_a_worker_when, args=(out, 2, killed))
    killer.start()
    report, _ = restore_on_ray(RestoreOptions(str(exported_s.artifact)), source, out, RayOptions(workers=2))
    killer.join()
    assert killed, "no worker was killed: the test proved nothing"
    assert not report.failed and len(report.written) == 10
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no partial left behind
    serial = tmp_path / "serial"
    restore_files(Restorer(str(exported_s.artifact)), source, serial)
    assert_same_outputs(serial, out)


def test_pools_the_cluster_cannot_hold_are_refused(local_ray, collection, tiny, tmp_path):
    with pytest.raises(EdgeIRError, match="expected a cluster with 4 CPUs"):
        restore_on_ray(RestoreOptions(str(tiny)), collection / "images", tmp_path / "a", RayOptions(workers=2, threads=2))
    with pytest.raises(EdgeIRError, match="--workers of at least 1"):
        restore_on_ray(RestoreOptions(str(tiny)), collection / "images", tmp_path / "b", RayOptions(workers=0))
    assert not (tmp_path / "a").exists()


def test_cli_on_ray(local_ray, collection, tiny, tmp_path, capsys):
    out, damaged = tmp_path / "cli", tmp_path / "damaged.mp4"
    damaged.write_bytes(b"not a video")
    code = cli.main(["run", str(tiny), str(collection / "clip.avi"), str(damaged), str(collection / "images"),
                     "-o", str(out), "--ray", "--workers", "2", "--frames-per-part", "20"])
    captured = capsys.readouterr()
    assert code == 1  # broken.png and damaged.mp4, reported and skipped
    for name in ("broken.png", "damaged.mp4"):  # each named once, as unreadable or not restored
        (line,) = [line for line in captured.err.splitlines() if name in line]
        assert line.startswith("edgeir: skipped ") and (": unreadable: " in line or ": not restored: " in line)
    assert "broken.png: unreadable: " in captured.err and "edgeir: error: 2 input(s) skipped (" in captured.err
    assert "frames/s" in captured.out and captured.out.count("  worker ") == 2
    assert len(frames_of(out / "clip.avi")) == 60
    assert cli.main(["run", str(tiny), str(collection / "clip.avi"), "-o", str(out / "x.avi"), "--workers", "2"]) == 1
    assert "expected --workers with --ray" in capsys.readouterr().err


def test_relative_paths_mean_the_same_files_to_the_workers(local_ray, collection, tiny, tmp_path, monkeypatch):
    """Ray's workers do not run in the caller's working directory."""
    (tmp_path / "model.onnx").write_bytes(tiny.read_bytes())
    (tmp_path / "clip.avi").symlink_to(collection / "clip.avi")
    monkeypatch.chdir(tmp_path)
    report, _ = restore_on_ray(RestoreOptions("model.onnx"), ["clip.avi"], "relative/clip.avi",
                               RayOptions(workers=2, frames_per_part=30))
    assert not report.failed and (tmp_path / "relative" / "clip.avi").is_file()


@pytest.mark.slow
def test_convir_on_ray_equals_a_serial_run(local_ray, collection, exported_s, tmp_path):
    """The same as the first test with ConvIR-S (dynamic ONNX) instead of the tiny graph."""
    model, inputs = str(exported_s.artifact), [collection / "images", collection / "clip.avi"]
    restore_files(Restorer(model, batch=2), inputs, tmp_path / "serial")
    report, _ = restore_on_ray(RestoreOptions(model, batch=2), inputs, tmp_path / "ray",
                               RayOptions(workers=2, frames_per_part=16))
    assert report.frames == 100
    video_a, video_b = frames_of(tmp_path / "serial" / "clip.avi"), frames_of(tmp_path / "ray" / "clip.avi")
    assert len(video_a) == len(video_b) == 60 and all(np.array_equal(a, b) for a, b in zip(video_a, video_b))
    (tmp_path / "serial" / "clip.avi").unlink()
    (tmp_path / "ray" / "clip.avi").unlink()
    assert_same_outputs(tmp_path / "serial", tmp_path / "ray")
