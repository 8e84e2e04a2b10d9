import math

import pytest

from edgeir import EdgeIRError
from edgeir.export.gate import Gate, check_gates
from edgeir.export.targets import TARGETS

ERROR = Gate("parity.max_abs", 1e-3, "PyTorch")
PSNR = Gate("details.psnr_vs_fp32_graph_db", 40.0, "the FP32 graph", hint="try this")
MACOS = Gate("details.coreml_parity.psnr_db", 40.0, "Core ML", optional=True)


def test_bounds_and_the_record():
    figures = {"parity": {"max_abs": 2e-4}, "details": {"psnr_vs_fp32_graph_db": math.inf}}
    record = check_gates((ERROR, PSNR, MACOS), figures, "x")
    # identical outputs (infinite PSNR) pass and are recorded as "inf"; the optional figure is absent
    assert record == [
        {"figure": "parity.max_abs", "bound": 1e-3, "against": "PyTorch", "found": 2e-4},
        {"figure": "details.psnr_vs_fp32_graph_db", "bound": 40.0, "against": "the FP32 graph", "found": "inf"},
    ]


@pytest.mark.parametrize(("figures", "message"), [
    ({"parity": {"max_abs": 0.01}, "details": {"psnr_vs_fp32_graph_db": 50}},
     "expected x within max abs error 0.001 of PyTorch, found max abs error 0.01; nothing was written"),
    ({"parity": {"max_abs": 0}, "details": {"psnr_vs_fp32_graph_db": 39.9}},
     "expected x within 40 dB PSNR of the FP32 graph, found 39.9 dB; nothing was written; try this"),
    ({"parity": {"max_abs": 0}, "details": {"psnr_vs_fp32_graph_db": math.nan}}, "found nan dB"),
    ({"parity": {"max_abs": 0}, "details": {"psnr_vs_fp32_graph_db": 50, "coreml_parity": {"psnr_db": 20}}},
     "within 40 dB PSNR of Core ML"),
])
def test_failures_say_what_was_expected_and_found(figures, message):
    with pytest.raises(EdgeIRError, match=r"^parity check failed: .*" + message.replace("(", r"\(")):
        check_gates((ERROR, PSNR, MACOS), figures, "x")


def test_a_figure_the_target_forgot_is_a_bug_not_a_pass():
    with pytest.raises(RuntimeError, match="did not measure details.psnr_vs_fp32_graph_db"):
        check_gates((PSNR,), {"parity": {}, "details": {}}, "x")


def test_every_target_has_gates_on_figures_against_pytorch():
    for target in TARGETS.values():
        assert target.gates, target.name
        assert all(g.figure.split(".")[0] in ("parity", "details") for g in target.gates)
        # each artifact is held to PyTorch, directly or through the FP32 graph verified against it
        assert any("PyTorch" in g.against or "FP32" in g.against for g in target.gates), target.name
