"""The terminal table: long statuses wrap onto more lines instead of being cut, and keep
their brackets (no markup)."""

import re

import pytest

from edgeir.bench.measure import TargetResult
from edgeir.bench.report import print_table

REASON = ('skipped: tensorrt cannot run here: TensorRT (the tensorrt Python package) and a CUDA GPU not '
          'found; pip install "edgeir[trt]" on a machine with one')


@pytest.mark.parametrize("width", [100, 160])
def test_a_long_skip_reason_is_shown_whole(width):
    from rich.console import Console

    console = Console(width=width, record=True)
    results = [TargetResult("torch", precision="fp32", psnr=28.468, psnr_drop=0.0, latency_ms_p50=304.26, fps=3.29),
               TargetResult("trt-int8", status=REASON)]
    print_table(results, console)
    text = console.export_text()
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width
    status = "".join(line.split("│")[2] for line in text.splitlines() if line.count("│") > 3)
    assert re.sub(r"\s+", "", REASON) in re.sub(r"\s+", "", status)  # wrapped, every character kept
    numbers = re.sub(r"\s+", "", "".join(line.split("│")[9] for line in text.splitlines() if line.count("│") > 3))
    assert "304.26" in numbers
