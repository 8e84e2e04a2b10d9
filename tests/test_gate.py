"""The one gate: which way each kind of figure must go."""

import math

from edgeir.gate import Gate, figure_at


def test_errors_and_drops_must_stay_under_psnrs_must_reach():
    assert Gate("parity.max_abs", 1e-3, "PyTorch").passes(5e-4)
    assert not Gate("parity.max_abs", 1e-3, "PyTorch").passes(2e-3)
    assert Gate("psnr_drop", 0.1, "FP32").passes(0.05) and not Gate("psnr_drop", 0.1, "FP32").passes(0.2)
    assert Gate("parity.psnr_db", 40, "FP32").passes(math.inf) and not Gate("parity.psnr_db", 40, "FP32").passes(39.9)
    assert not Gate("psnr_drop", 0.1, "FP32").passes(math.nan) and not Gate("psnr", 30, "x").passes(math.nan)


def test_what_each_gate_says():
    assert Gate("parity.max_abs", 1e-3, "PyTorch").describe() == "max abs error 0.001 of PyTorch"
    assert Gate("psnr_drop", 0.1, "FP32").describe() == "a PSNR drop of at most 0.1 dB of FP32"
    assert Gate("psnr", 30, "the sharp frames").describe() == "30 dB PSNR of the sharp frames"


def test_figures_are_found_by_path():
    assert figure_at({"parity": {"max_abs": 0.5}}, "parity.max_abs") == 0.5
    assert figure_at({"parity": {}}, "parity.max_abs") is None
