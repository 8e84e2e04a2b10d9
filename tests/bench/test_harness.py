"""The benchmark end to end on a tiny synthetic set: every report file with every field,
torch against itself exactly 0 dB, skipped and failed targets that do not stop the run, and
exports cached by what they were asked."""

import contextlib
import csv
import io
import json
import math
import shutil

import pytest

pytest.importorskip("onnxslim", reason="the onnx extra is not installed")
pytest.importorskip("skimage", reason="the data extra is not installed")

from edgeir import cli  # noqa: E402
from edgeir.bench import BenchConfig, bench  # noqa: E402
from edgeir.bench.evalset import open_evalset  # noqa: E402
from edgeir.bench.harness import DEVICE_FIELDS, FIELDS, parse_targets  # noqa: E402
from edgeir.errors import EdgeIRError  # noqa: E402
from edgeir.models.registry import get_task  # noqa: E402
from edgeir.runtimes import Runtime, RuntimeInfo  # noqa: E402


def _config(out):
    return BenchConfig("s", "motion-deblur", None, open_evalset("synthetic", "motion-deblur", (256, 256), limit=1),
                       out, runs=2, warmup=0)


@pytest.fixture(scope="module")
def torch_and_onnx(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    return bench(_config(out), ["torch", "onnx"], isolate=False), out


def test_reports_have_every_field(torch_and_onnx):
    run, out = torch_and_onnx
    for name in ("report.json", "report.csv", "report.md", "psnr_vs_fps.png", "samples.png"):
        assert (out / name).stat().st_size > 0, name
    report = json.loads((out / "report.json").read_text())
    assert set(report["machine"]) >= {"cpu", "cpu_features", "cores", "gpu", "os", "libraries"}
    assert [t["target"] for t in report["targets"]] == ["input", "torch", "onnx"]
    onnx = report["targets"][2]
    assert list(onnx) == list(FIELDS) and onnx["status"] == "ok"
    assert all(onnx[f] is not None for f in FIELDS if f not in DEVICE_FIELDS), onnx
    assert all(onnx[f] is None for f in DEVICE_FIELDS), "no GPU here: the device-only time is not measured"
    assert onnx["latency_ms_p50"] <= onnx["latency_ms_p90"] <= onnx["latency_ms_p99"]
    assert onnx["int8_mac_share"] == 0.0 and report["targets"][1]["int8_mac_share"] is None  # torch: not profiled
    assert (onnx["psnr_vs_fp32"] is None or onnx["psnr_vs_fp32"] > 60) and abs(onnx["psnr_drop"]) < 0.01  # FP32 ONNX is PyTorch (bit-equal after 8-bit rounding with one thread)
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert [r["target"] for r in rows] == ["input", "torch", "onnx"] and list(rows[0]) == list(FIELDS)


def test_the_input_row_shows_what_restoring_adds(torch_and_onnx):
    """PSNR and SSIM of the blurred frames; its PSNR drop is the torch FP32 gain."""
    run, out = torch_and_onnx
    blurred, torch_row = run.results[0], run.results[1]
    assert blurred.target == "input" and blurred.status == "ok" and blurred.latency_ms_p50 is None
    assert blurred.psnr_drop == round(torch_row.psnr - blurred.psnr, 3)
    pairs = [(b, s) for _, b, s in _config(out).evalset]
    from edgeir.bench.metrics import psnr

    assert blurred.psnr == round(float(sum(psnr(b, s) for b, s in pairs) / len(pairs)), 3)


def test_torch_against_itself_is_exactly_zero(torch_and_onnx):
    run, out = torch_and_onnx
    torch_row = json.loads((out / "report.json").read_text())["targets"][1]
    assert torch_row["psnr_drop"] == 0 and torch_row["psnr_vs_fp32"] is None  # identical: null
    assert math.isinf(run.results[1].psnr_vs_fp32)


def test_exports_are_cached_by_their_request(torch_and_onnx):
    run, out = torch_and_onnx
    again = bench(_config(out), ["onnx"], isolate=False)
    assert again.results[1].extra["cached_export"] is True
    assert again.results[1].export_s == run.results[2].export_s
    # torch is not a row here, yet every drop is still against it
    assert [r.target for r in again.results] == ["input", "onnx"] and abs(again.results[1].psnr_drop) < 0.01


def test_isolated_run_exports_and_measures_in_fresh_processes(torch_and_onnx):
    """What the CLI does by default; the export cached by the first run is found again."""
    run, out = torch_and_onnx
    again = bench(_config(out), ["onnx"], isolate=True)
    onnx = again.results[1]
    assert onnx.status == "ok" and onnx.extra["cached_export"] is True
    assert onnx.psnr == run.results[2].psnr and onnx.peak_rss_mb > 0


def test_missing_runtime_is_skipped_and_a_broken_target_failed(tmp_path, monkeypatch):
    from edgeir.bench import harness
    from edgeir.export import targets

    real_check, real_export = targets.check_available, harness.export_target

    def no_openvino(spec):
        if spec.name == "openvino":
            raise EdgeIRError("target openvino needs openvino, which is not installed")
        return real_check(spec)

    def broken(config, target):
        if target == "onnx-fp16":
            raise RuntimeError("the exporter broke")
        return real_export(config, target)

    monkeypatch.setattr(targets, "check_available", no_openvino)
    monkeypatch.setattr(harness, "export_target", broken)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["bench", "--targets", "torch,openvino,onnx-fp16", "--limit", "1", "--runs", "1",
                         "--warmup", "0", "--in-process", "--out", str(tmp_path), "--json"])
    assert code == 1
    rows = {r["target"]: r for r in json.loads(out.getvalue())}
    assert rows["openvino"]["status"] == "skipped: target openvino needs openvino, which is not installed"
    assert rows["onnx-fp16"]["status"] == "failed: the exporter broke"
    assert rows["torch"]["status"] == "ok"
    assert "onnx-fp16 failed: the exporter broke" in err.getvalue()
    assert "torch: ok, fp32, PSNR" in err.getvalue()  # a line per target as it finishes
    written = json.loads((tmp_path / "report.json").read_text())
    assert [t["status"][:7] for t in written["targets"]] == ["ok", "ok", "skipped", "failed:"]


def test_target_lists():
    assert parse_targets("all")[0] == "torch" and "coreml-int8" in parse_targets("all")
    assert parse_targets("onnx, torch,onnx") == ["onnx", "torch"]
    with pytest.raises(EdgeIRError, match="expected --targets all or a comma list"):
        parse_targets("onnx,tflite")


def test_exports_are_asked_for_the_legal_size_of_the_frames(tmp_path):
    from edgeir.bench.harness import _export_request

    config = BenchConfig("s", "motion-deblur", None, open_evalset("synthetic", "motion-deblur", (720, 1280), limit=1),
                         tmp_path, batch=4)
    assert _export_request(config, "onnx")["dynamic"] == "736x1280:736x1280:736x1280"
    assert _export_request(config, "onnx")["batch"] == 4
    coreml = _export_request(config, "coreml")
    assert coreml["shape"] == (736, 1280) and coreml["batch"] == 1


class _GpuDouble(Runtime):
    """Stands in for a runtime on a GPU (none here): returns its input as the restored
    frame, records what its device timer was made for, and reports 2 ms per timed run.
    It checks the harness's bookkeeping only; no figure from it is a measurement."""

    def __init__(self):
        self.info = RuntimeInfo("gpu-double", "fp16", "cuda:0", get_task("motion-deblur").dilations)
        self.timed, self.runs = [], 0

    def _run(self, x):
        return x

    def device_timer(self, x):
        self.timed.append(x.shape)

        def run_once():
            self.runs += 1
            return 2.0

        return run_once


def test_device_time_covers_every_tile_of_the_frame(tmp_path, monkeypatch):
    from edgeir.bench import harness

    double = _GpuDouble()
    monkeypatch.setattr(harness, "open_runtime", lambda config, target: (double, {"export_s": 1.0}))
    config = BenchConfig("s", "motion-deblur", None, open_evalset("synthetic", "motion-deblur", (256, 512), limit=1),
                         tmp_path, runs=5, warmup=1, tile=256)
    result = harness.measure(config, "gpu-double", None)
    assert result.status == "ok", result.status
    tiles = len(double.timed)
    assert tiles >= 2 and set(double.timed) == {(1, 3, 256, 256)}
    assert double.runs == tiles * (5 + 1)
    assert result.device_ms_p50 == result.device_ms_p99 == 2.0 * tiles
    assert result.latency_ms_p50 is not None


def test_a_target_this_machine_cannot_run_is_skipped_before_its_export(tmp_path, monkeypatch):
    """A TensorRT or Core ML export takes minutes; where the runtime cannot run, skip first."""
    from edgeir import runtimes
    from edgeir.bench import harness
    from edgeir.export import targets

    exported = []
    monkeypatch.setattr(harness, "export_target", lambda config, target: exported.append(target))
    # The exporter's packages (ModelOpt: the tensorrt extra) may be missing here too; this
    # test is about the runtime.
    monkeypatch.setattr(targets, "check_available", lambda spec: None)
    monkeypatch.setattr(runtimes, "why_unavailable",
                        lambda runtime: "a CUDA GPU not found" if runtime == "tensorrt" else None)
    result = harness.measure(_config(tmp_path), "trt-fp16", None)
    assert result.status == "skipped: tensorrt cannot run here: a CUDA GPU not found"
    assert exported == [] and result.peak_rss_mb is None


def test_a_stopped_bench_keeps_what_it_measured_and_resume_measures_the_rest(torch_and_onnx, tmp_path,
                                                                             monkeypatch, capsys):
    from edgeir.bench import harness

    _, cached = torch_and_onnx
    out = tmp_path / "bench"
    shutil.copytree(cached / "models", out / "models")  # the onnx export, cached
    prepare, measure = harness.prepare, harness.measure

    def stopped_at_onnx(config, target, steps=None):
        if target == "onnx":
            raise KeyboardInterrupt  # Ctrl-C while onnx exports
        return prepare(config, target, steps)

    monkeypatch.setattr(harness, "prepare", stopped_at_onnx)
    with pytest.raises(KeyboardInterrupt):
        bench(_config(out), ["torch", "onnx"], isolate=False)
    plan, report = capsys.readouterr().err, json.loads((out / "report.json").read_text())
    assert "targets  2: torch, onnx" in plan and f"reports  {out} (written after every target)" in plan
    assert "skipped" not in plan  # both run here
    assert [t["target"] for t in report["targets"]] == ["input", "torch"] and report["targets"][1]["status"] == "ok"
    assert report["complete"] is False and report["not_measured"] == ["onnx"]
    assert report["weights"]["kind"] == "demo" and len(report["weights"]["sha256"]) == 64
    assert "not measured: onnx" in (out / "report.md").read_text()

    def not_torch_again(config, target, reference, steps=None):
        assert target != "torch", "--resume measured torch again"
        return measure(config, target, reference, steps)

    monkeypatch.setattr(harness, "prepare", prepare)
    monkeypatch.setattr(harness, "measure", not_torch_again)
    resumed = bench(_config(out), ["torch", "onnx"], isolate=False, resume=True)
    report = json.loads((out / "report.json").read_text())
    assert [t["target"] for t in report["targets"]] == ["input", "torch", "onnx"] and report["complete"] is True
    assert resumed.results[2].status == "ok" and abs(resumed.results[2].psnr_drop) < 0.01
    with pytest.raises(EdgeIRError, match="found runs 3 where it had 2: run without --resume"):
        bench(BenchConfig("s", "motion-deblur", None, _config(out).evalset, out, runs=3, warmup=0), ["onnx"],
              isolate=False, resume=True)
