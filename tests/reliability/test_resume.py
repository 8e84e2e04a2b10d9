"""``edgeir bench --resume`` reads back what an earlier run left in ``--out`` (issue 36, items
8 and 10): ``report.json``, and in ``OUT/models`` torch's outputs (``torch_outputs.npz``),
its row (``torch_row.json``) and the sample crops (``samples.npz``). A damaged, truncated or
hand-edited one is refused in one line naming the file and what was expected, and left as
it was; NaN or mis-shaped outputs are never compared with.

The folder is written once per module as the bench writes it (``Saved``, ``to_json``), on
two 64x64 synthetic frames, without running any network; each case damages a copy and
resumes it with ``bench(..., resume=True)``, in which no target may run (every target of
the folder was measured) and reports are not drawn.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeir.bench import BenchConfig, bench, run_settings
from edgeir.bench.evalset import open_evalset
from edgeir.bench.measure import TargetResult
from edgeir.bench.report import to_json
from edgeir.bench.resume import Saved
from edgeir.errors import EdgeIRError
from edgeir.models.weights import choose_weights

ORDER = ["torch", "onnx"]
RESUME_HINT = ": run without --resume (its reports are replaced)"


def _config(out: Path) -> BenchConfig:
    return BenchConfig("s", "motion-deblur", "random", open_evalset("synthetic", "motion-deblur", (64, 64), limit=2),
                       out, runs=1, warmup=0)


def _settings(config: BenchConfig) -> dict:
    return run_settings(config, choose_weights(config.variant, config.task, config.weights).record())


def _frames(config: BenchConfig) -> list[np.ndarray]:
    return [sharp for _, _, sharp in config.evalset]


def _row(target: str, psnr: float) -> TargetResult:
    return TargetResult(target, precision="fp32", size_mb=1.0, psnr=psnr, ssim=0.9, psnr_vs_fp32=60.0,
                        latency_ms_p50=5.0, latency_ms_p90=6.0, latency_ms_p99=7.0, fps=200.0, fps_batch=200.0,
                        peak_rss_mb=100.0, export_s=1.0)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished run of torch and onnx, as the bench leaves it."""
    out = tmp_path_factory.mktemp("resume") / "bench"
    config = _config(out)
    frames = _frames(config)
    outputs = [frame.astype(np.float32) / 255 for frame in frames]
    torch_row, onnx_row = _row("torch", 30.0), _row("onnx", 29.9)
    saved = Saved(out)
    saved.keep_reference(outputs, torch_row)
    for row in (torch_row, onnx_row):
        row.extra["sample"] = outputs[0][:32, :32]
        saved.keep_sample(row)
    run = {"settings": _settings(config), "complete": True, "not_measured": []}
    (out / "report.json").write_text(to_json({}, [_row("input", 25.0), torch_row, onnx_row], "2 pairs", run))
    return out


def _copy(finished: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bench"
    shutil.copytree(finished, copy)
    return copy


@pytest.fixture
def resume(monkeypatch):
    """``bench --resume`` of a folder, in which no target runs and no report is drawn."""
    import edgeir.bench
    from edgeir.bench import machine, report

    monkeypatch.setattr(edgeir.bench, "run_target", lambda *args, **kwargs: pytest.fail("a target ran"))
    monkeypatch.setattr(report, "write_reports", lambda *args, **kwargs: {})
    monkeypatch.setattr(machine, "describe", lambda: {})
    return lambda out: bench(_config(out), ORDER, isolate=False, resume=True)


@pytest.mark.correct_result
def test_an_intact_run_is_resumed(finished, tmp_path, resume):
    out = _copy(finished, tmp_path)
    run = resume(out)
    assert [r.target for r in run.results] == ["input", "torch", "onnx"] and run.results[2].psnr == 29.9
    assert run.results[2].extra["sample"].shape == (32, 32, 3) and run.results[2].psnr_drop == 0.1


# -- the damages, each on a copy ----------------------------------------------------------------

def _arrays(name, change):
    def damage(models: Path) -> None:
        arrays = change(dict(np.load(models / name)))
        (models / name).unlink()
        np.savez(models / name, **arrays)
    return damage


def _bytes(name, change):
    def damage(models: Path) -> None:
        (models / name).write_bytes(change((models / name).read_bytes()))
    return damage


def _each(change):
    return lambda arrays: {k: change(v) for k, v in arrays.items()}


def _report(change):
    def damage(models: Path) -> None:
        path = models.parent / "report.json"
        report = json.loads(path.read_text())
        change(report)
        path.write_text(json.dumps(report))
    return damage


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


OUTPUTS, ROW, SAMPLES = "torch_outputs.npz", "torch_row.json", "samples.npz"
DAMAGES = {
    "outputs garbage": (OUTPUTS, _bytes(OUTPUTS, lambda b: b"garbage" * 10),
                        "expected torch's outputs as a numpy .npz archive in {models}/torch_outputs.npz, found a damaged "
                        "file"),
    "outputs truncated": (OUTPUTS, _bytes(OUTPUTS, lambda b: b[:1000]), "found a damaged file"),
    "outputs empty": (OUTPUTS, _bytes(OUTPUTS, lambda b: b""), "found a damaged file"),
    "outputs one .npy": (OUTPUTS, _bytes(OUTPUTS, lambda b: _npy(np.zeros(3))),
                         "found a damaged file (a single array, not an archive of them)"),
    "outputs an object array": (OUTPUTS, _arrays(OUTPUTS, lambda a: {**a, "frame_00000": np.array([{}], dtype=object)}),
                                "found a damaged file (Object arrays cannot be loaded when allow_pickle=False)"),
    "outputs all NaN": (OUTPUTS, _arrays(OUTPUTS, _each(lambda a: np.full_like(a, np.nan))),
                        "expected finite values in frame_00000 in {models}/torch_outputs.npz, found NaN or infinity"),
    "outputs float64 grey": (OUTPUTS, _arrays(OUTPUTS, _each(lambda a: a[..., 0].astype(np.float64))),
                             "expected frame_00000 in {models}/torch_outputs.npz as float32 H x W x 3, found float64 "
                             "(64, 64)"),
    "outputs of another size": (OUTPUTS, _arrays(OUTPUTS, _each(lambda a: a[:32])),
                                "expected frame_00000 in {models}/torch_outputs.npz of shape (64, 64, 3) like its "
                                "frame, found (32, 64, 3)"),
    "outputs one frame short": (OUTPUTS, _arrays(OUTPUTS, lambda a: {"frame_00000": a["frame_00000"]}),
                                "expected torch's outputs on 2 frames (frame_00000...) in {models}/torch_outputs.npz, "
                                "found 1: frame_00000"),
    "samples garbage": (SAMPLES, _bytes(SAMPLES, lambda b: b"garbage" * 10),
                        "expected the sample crops as a numpy .npz archive in {models}/samples.npz, found a damaged file"),
    "samples NaN grey": (SAMPLES, _arrays(SAMPLES, _each(lambda a: np.full(a.shape[:2], np.nan))),
                         "expected the sample of torch in {models}/samples.npz as float32 H x W x 3, found float64 "
                         "(32, 32)"),
    "torch row not JSON": (ROW, _bytes(ROW, lambda b: b"{not json"),
                           "expected JSON in torch's row of an edgeir bench {models}/torch_row.json: Expecting"),
    "torch row psnr a string": (ROW, _bytes(ROW, lambda b: json.dumps({**json.loads(b), "psnr": "x"}).encode()),
                                "expected psnr to be a number or null in {models}/torch_row.json, found \"x\""),
    "report targets an object": ("../report.json",
                                 _report(lambda r: r.__setitem__("targets", {"onnx": r["targets"][2]})),
                                 "expected targets to be a list of objects in {out}/report.json, found an object"),
    "report targets strings": ("../report.json", _report(lambda r: r.__setitem__("targets", ORDER)),
                               "expected targets to be a list of objects in {out}/report.json, found a list of strings"),
    "report psnr a string": ("../report.json", _report(lambda r: r["targets"][2].__setitem__("psnr", "high")),
                             "expected targets[2].psnr to be a number or null in {out}/report.json, found \"high\""),
    "report psnr a list": ("../report.json", _report(lambda r: r["targets"][2].__setitem__("psnr", [1])),
                           "expected targets[2].psnr to be a number or null in {out}/report.json, found a list of "
                           "numbers"),
    "report status a number": ("../report.json", _report(lambda r: r["targets"][2].__setitem__("status", 0)),
                               "expected targets[2].status to be a string in {out}/report.json, found 0"),
    "report settings a list": ("../report.json", _report(lambda r: r.__setitem__("settings", [])),
                               "expected settings to be an object in {out}/report.json, found an empty list"),
    "report nested brackets": ("../report.json", _bytes("../report.json", lambda b: b"[" * 100000 + b"]" * 100000),
                               "expected JSON in an edgeir bench report to resume {out}/report.json, found values "
                               "nested too deeply to read"),
}


@pytest.mark.clear_error
@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_run_is_refused_in_one_line_and_kept(finished, tmp_path, resume, damage):
    """Before: BadZipFile, ValueError, JSONDecodeError, AttributeError or TypeError
    tracebacks; an all-NaN reference scored every target as identical to FP32 (rc 0); a
    short or mis-shaped one failed each target with "list index out of range" or a shape
    error."""
    out = _copy(finished, tmp_path)
    name, change, expected = DAMAGES[damage]
    change(out / "models")
    before = (out / "models" / name).read_bytes()
    with pytest.raises(EdgeIRError) as caught:
        resume(out)
    line = str(caught.value)
    assert expected.format(out=out, models=out / "models") in line, line
    assert line.endswith(RESUME_HINT) and "\n" not in line
    assert (out / "models" / name).read_bytes() == before  # left as it was: the user decides


@pytest.mark.clear_error
def test_outputs_short_of_a_frame_are_refused_before_a_target_is_measured(finished, tmp_path, resume):
    """onnx is to be measured again, against torch's kept outputs on one frame of two:
    refused before it runs (before: "onnx failed: list index out of range")."""
    out = _copy(finished, tmp_path)
    DAMAGES["outputs one frame short"][1](out / "models")
    report = json.loads((out / "report.json").read_text())
    report["targets"] = report["targets"][:2]
    (out / "report.json").write_text(json.dumps(report))
    with pytest.raises(EdgeIRError, match=r"^expected torch's outputs on 2 frames \(frame_00000...\) in .*"
                                          r"torch_outputs.npz, found 1: frame_00000: run without --resume"):
        resume(out)


@pytest.mark.correct_result
def test_damaged_sample_crops_of_a_new_run_are_replaced(finished, tmp_path, caplog):
    """Without --resume the bench only adds to the crops: a damaged file of them is replaced,
    with a line saying so, instead of failing the run (before: BadZipFile)."""
    out = _copy(finished, tmp_path)
    (out / "models" / SAMPLES).write_bytes(b"garbage")
    row = _row("onnx", 29.0)
    row.extra["sample"] = np.zeros((8, 8, 3), np.float32)
    saved = Saved(out)
    saved.keep_sample(row)
    assert list(np.load(out / "models" / SAMPLES).files) == ["onnx"]
    assert f"replacing the sample crops kept in {out / 'models' / SAMPLES}: expected the sample crops" in caplog.text
