"""The bench's INT8 MACs column: measured after the timed runs from the runtime itself, an
INT8 target below the threshold named in its status, the field in every report, and a
profiler that fails leaving the figure out rather than the target."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("onnxruntime.quantization", reason="the ort extra is not installed")
pytest.importorskip("onnx", reason="the onnx extra is not installed")

from edgeir.bench.measure import (  # noqa: E402
    FIELDS,
    INT8_MAC_SHARE_MIN,
    TargetResult,
    int8_status,
    measure_int8_share,
)
from edgeir.bench.report import terminal_table, to_csv, to_json, to_markdown  # noqa: E402
from edgeir.runtimes import load  # noqa: E402
from tests.runtimes import tiny_conv  # noqa: E402

SETTINGS = SimpleNamespace(runs=1, warmup=0, batch=1, tile=None, y_channel=False)
FRAME = np.random.default_rng(0).integers(0, 256, (256, 256, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def graphs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    fp32, fp32_t = tiny_conv.build(folder), tiny_conv.build(folder, transposed=True)
    return {"fp32": fp32, "qdq": tiny_conv.quantize(fp32), "qdq-t": tiny_conv.quantize(fp32_t)}


def _measured(path, stored, target="onnx-int8"):
    """A result as the harness leaves it after the timed runs, then the share measured on a
    runtime whose manifest says ``stored`` (the tiny graphs have no manifest of their own)."""
    runtime = load(path)
    runtime.info.manifest = SimpleNamespace(precision=stored)
    result = TargetResult(target, precision=stored, psnr=30.0, ssim=0.9, latency_ms_p50=5.0, fps=200.0)
    measure_int8_share(result, runtime, FRAME, SETTINGS)
    return result


def test_an_int8_target_below_the_threshold_says_so(graphs):
    """The Q/DQ ConvTranspose runs in FP32 on ONNX Runtime 1.32: 62% of the MACs in INT8."""
    convs, transposed = tiny_conv.conv_macs_by_hand(256, 256, transposed=True)
    result = _measured(graphs["qdq-t"], "int8")
    assert INT8_MAC_SHARE_MIN == 0.90
    if result.int8_mac_share >= INT8_MAC_SHARE_MIN:
        pytest.skip("this ONNX Runtime runs the Q/DQ ConvTranspose in INT8 too")
    assert result.int8_mac_share == round(convs / (convs + transposed), 4) == 0.619
    assert result.status == "ok, INT8 MACs 61.9% < 90%" and result.ok
    assert result.summary().endswith("200 FPS, INT8 MACs 61.9% < 90%")
    assert result.extra["conv_macs"]["ConvTranspose float"] == transposed


def test_targets_at_or_above_the_threshold_and_float_targets_stay_ok(graphs):
    int8 = _measured(graphs["qdq"], "int8")
    assert (int8.status, int8.int8_mac_share) == ("ok", 1.0)
    fp32 = _measured(graphs["fp32"], "fp32", target="onnx")
    assert (fp32.status, fp32.int8_mac_share) == ("ok", 0.0)  # 0%: informative, not a warning


def test_the_share_is_rounded_down_in_the_status():
    assert int8_status(0.89996) == "ok, INT8 MACs 89.9% < 90%"
    assert int8_status(0.72) == "ok, INT8 MACs 72% < 90%"


def test_a_profiler_that_fails_leaves_the_figure_out_not_the_target(graphs, monkeypatch):
    from edgeir.runtimes import int8_share

    def broken(runtime, x):
        raise RuntimeError("profiling is off in this build")

    monkeypatch.setattr(int8_share, "conv_macs", broken)
    result = _measured(graphs["qdq-t"], "int8")
    assert result.status == "ok" and result.int8_mac_share is None
    assert result.extra["int8_mac_share_why"] == "not measured: profiling is off in this build"


def test_runtimes_that_cannot_say_are_a_dash(graphs, monkeypatch):
    from edgeir.runtimes import int8_share

    monkeypatch.setattr(int8_share, "conv_macs", lambda runtime, x: None)
    result = _measured(graphs["qdq"], "int8", target="trt-int8")
    assert result.status == "ok" and result.int8_mac_share is None
    assert "does not show its kernels" in result.extra["int8_mac_share_why"]


def test_every_report_carries_the_column(graphs):
    rows = [_measured(graphs["qdq-t"], "int8"), _measured(graphs["fp32"], "fp32", target="onnx"),
            TargetResult("trt-int8", status="skipped: tensorrt cannot run here")]
    report = json.loads(to_json({}, rows, "tiny"))
    assert list(report["targets"][0]) == list(FIELDS) and FIELDS[-1] == "int8_mac_share"
    assert [t["int8_mac_share"] for t in report["targets"]] == [0.619, 0.0, None]
    assert to_csv(rows).splitlines()[0].endswith(",int8_mac_share")
    markdown = to_markdown({}, rows, "tiny")
    assert "| export_s | INT8 MACs |" in markdown and "| 61.9% |" in markdown and "| 0.0% |" in markdown
    table = terminal_table(rows)
    header, first = table.splitlines()[0], table.splitlines()[2]
    assert "INT8" in header and "61.9%" in first and "ok [1]" in first
    assert "[1] onnx-int8: ok, INT8 MACs 61.9% < 90%" in table


def test_the_share_is_measured_after_the_peak_memory(tmp_path, monkeypatch):
    """The profiled run opens a session of its own: its memory is not the target's."""
    from edgeir.bench import harness
    from edgeir.bench.evalset import open_evalset

    pytest.importorskip("skimage", reason="the data extra is not installed")
    order = []

    class Runtime:
        info = SimpleNamespace(precision="int8", device="cpu", backend="double")

    monkeypatch.setattr(harness, "open_runtime", lambda config, target: (Runtime(), {"export_s": 1.0}))
    monkeypatch.setattr(harness, "measure_runtime", lambda *args: order.append("timed") or [])
    monkeypatch.setattr(harness, "peak_rss_mb", lambda: order.append("peak") or 100.0)
    monkeypatch.setattr(harness, "measure_int8_share", lambda *args: order.append("share"))
    config = harness.BenchConfig("s", "motion-deblur", None,
                                 open_evalset("synthetic", "motion-deblur", (256, 256), limit=1), tmp_path)
    result = harness.measure(config, "double", None)
    assert result.status == "ok" and result.peak_rss_mb == 100.0
    assert order == ["timed", "peak", "share"]
