"""``--max-psnr-drop`` on Q/DQ graphs: the ranking finds the sensitive convolution, the
search meets a budget with the fewest returned, and an unreachable budget gives the best."""

import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

from edgeir.calib import steer  # noqa: E402
from edgeir.calib.onnx_int8 import quantize  # noqa: E402
from edgeir.calib.sources import CalibrationSet  # noqa: E402
from edgeir.errors import EdgeIRError  # noqa: E402
from edgeir.export.calibration import budget_gates  # noqa: E402
from edgeir.export.gate import check_gates  # noqa: E402
from edgeir.export.graph import runner  # noqa: E402
from tests.calib.conv_net import NAMES, conv_net, frames  # noqa: E402


@pytest.fixture(scope="module")
def graphs():
    """A loud first convolution (its output, which ONNX Runtime quantizes, gets coarse
    INT8 steps), and sharp targets 40 dB from the FP32 output, so
    that the INT8 loss shows as a drop against them."""
    fp32 = conv_net(loud=40.0)
    x = frames(12)
    fit, held_out = CalibrationSet(x[:8], "test"), CalibrationSet(x[8:], "test (held out)")
    run = runner(fp32)
    clean = np.concatenate([run(b) for b in held_out.batches(1)])
    noise = np.random.default_rng(3).normal(0, 0.01, clean.shape).astype(np.float32)
    held_out.targets = np.clip(clean + noise, 0, 1)
    # the output is not an image in [0, 1]; clip as the drop does, the targets too
    model, _ = quantize(fp32, fit, progress=False)
    return fp32, model, fit, held_out


def _steer(graphs, budget):
    fp32, model, fit, held_out = graphs
    return steer.within_budget(model, fp32, fit, held_out, 1, budget, True, runner, runner, "FP32")


def test_ranks_the_loud_convolution_first(graphs):
    fp32, model, fit, _ = graphs
    ranking = steer.rank(model, fp32, fit, 1, True, runner)
    assert [name for name, _ in ranking][0] == NAMES[0]
    assert sorted(name for name, _ in ranking) == sorted(NAMES)
    assert ranking[0][1] > ranking[-1][1]


def test_a_loose_budget_returns_nothing(graphs):
    steered = _steer(graphs, 100.0)
    assert steered.restored == [] and steered.record["within_budget"]
    assert steered.record["budget_search"]["tried"] == [{"restored": 0, "psnr_drop_db": steered.record["psnr_drop_db"]}]
    assert steered.record["budget_search"]["most_sensitive"] == []  # not ranked: not needed


def test_a_tight_budget_returns_the_sensitive_convolution(graphs, monkeypatch):
    monkeypatch.setattr(steer, "MAX_RESTORED_SHARE", 1.0)
    loose = _steer(graphs, 100.0).record["psnr_drop_db"]
    assert loose > 0.05  # the quantized graph loses something against the targets
    steered = _steer(graphs, loose / 4)
    record = steered.record
    assert record["within_budget"] and record["psnr_drop_db"] <= loose / 4
    assert steered.restored and steered.restored[0] == NAMES[0]
    assert record["higher_precision_convolutions"] == steered.restored
    assert record["restored_to"] == "FP32"
    assert len(record["budget_search"]["tried"]) >= 2
    assert record["psnr_drop_db"] == pytest.approx(
        record["psnr_fp32_vs_sharp_db"] - record["psnr_int8_vs_sharp_db"], abs=0.011)


def test_an_unreachable_budget_is_refused_with_the_best(graphs, monkeypatch):
    monkeypatch.setattr(steer, "MAX_RESTORED_SHARE", 0.25)  # one of three: not enough
    steered = _steer(graphs, 1e-6)
    record = steered.record
    assert not record["within_budget"]
    tried = record["budget_search"]["tried"]
    assert record["psnr_drop_db"] == min(t["psnr_drop_db"] for t in tried)
    assert record["budget_search"]["max_restored"] == math.ceil(0.25 * len(NAMES))
    (gate,) = budget_gates(record, graphs[3])
    with pytest.raises(EdgeIRError) as caught:
        check_gates((gate,), {"details": record}, "the onnx-int8 artifact")
    message = str(caught.value)
    assert "\n" not in message
    assert f"found {record['psnr_drop_db']} dB" in message
    assert "at most 1e-06 dB" in message and "1 of 3 convolutions in FP32" in message


def test_a_met_budget_passes_its_gate(graphs):
    record = _steer(graphs, 100.0).record
    (passed,) = check_gates(budget_gates(record, graphs[3]), {"details": record}, "it")
    assert passed["figure"] == "details.psnr_drop_db" and passed["bound"] == 100.0
