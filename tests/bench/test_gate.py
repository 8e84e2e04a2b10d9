"""``edgeir bench --max-psnr-drop/--min-psnr``: which rows are judged, the lines, the exit code."""

import contextlib
import io

import pytest

from edgeir.bench.gate import bench_gates, over_budget
from edgeir.bench.measure import TargetResult
from edgeir.errors import EdgeIRError


def _results():
    return [
        TargetResult("input", psnr=24.0, psnr_drop=1.5),  # the blurred frames: not a target
        TargetResult("torch", psnr=25.5, psnr_drop=0.0),
        TargetResult("onnx-int8", psnr=25.2, psnr_drop=0.3),
        TargetResult("openvino-int8", psnr=25.45, psnr_drop=0.05),
        TargetResult("trt-int8", status="skipped: tensorrt cannot run here"),
    ]


def test_targets_over_the_drop_are_named():
    lines = over_budget(_results(), bench_gates(max_psnr_drop=0.1))
    assert lines == ["onnx-int8: expected a PSNR drop of at most 0.1 dB of torch FP32 on the evaluation "
                     "frames, found 0.3 dB"]


def test_targets_under_the_psnr_are_named():
    lines = over_budget(_results(), bench_gates(min_psnr=25.5))
    assert [line.split(":")[0] for line in lines] == ["onnx-int8", "openvino-int8"]
    assert over_budget(_results(), bench_gates(max_psnr_drop=0.5, min_psnr=25.0)) == []


def test_a_measured_target_without_the_figure_misses():
    lines = over_budget([TargetResult("onnx")], bench_gates(max_psnr_drop=0.1))
    assert lines == ["onnx: expected a PSNR drop of at most 0.1 dB of torch FP32 on the evaluation frames, "
                     "found nothing measured"]


def test_bad_bounds_are_refused():
    with pytest.raises(EdgeIRError, match="--max-psnr-drop of 0 dB or more, found -1"):
        bench_gates(max_psnr_drop=-1)
    assert bench_gates() == ()


def test_the_exit_code_follows_the_gate(tmp_path):
    pytest.importorskip("skimage", reason="the data extra is not installed")
    from edgeir import cli

    args = ["bench", "--targets", "torch", "--limit", "1", "--runs", "1", "--warmup", "0", "--in-process",
            "--out", str(tmp_path)]
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert cli.main([*args, "--max-psnr-drop", "0.1", "--min-psnr", "10"]) == 0
        assert cli.main([*args, "--min-psnr", "99"]) == 1
    assert "edgeir: error: over budget: torch: expected 99 dB PSNR of the sharp frames, found" in err.getvalue()
    with contextlib.redirect_stderr(err):
        assert cli.main(["bench", "--compare", str(tmp_path), str(tmp_path), "--out", str(tmp_path / "c"),
                         "--min-psnr", "10"]) == 1
    assert "found them with --compare" in err.getvalue()
