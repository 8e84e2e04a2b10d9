"""The terminal table fits 80 columns with every number whole; a status other than ``ok``
is a numbered note under it, wrapped and never cut, with its brackets (no markup)."""

import re

from edgeir.bench.measure import TargetResult
from edgeir.bench.report import (
    TERMINAL_WIDTH,
    print_table,
    terminal_table,
    to_csv,
    to_json,
    to_markdown,
)

REASON = ('skipped: tensorrt cannot run here: TensorRT (the tensorrt Python package) and a CUDA GPU not '
          'found; pip install "edgeir[trt]" on a machine with one')
WIDEST = [TargetResult("input", precision="none", psnr=24.1, ssim=0.7),
          TargetResult("torch", precision="fp32", psnr=28.468, psnr_drop=0.0, psnr_vs_fp32=float("inf"),
                       latency_ms_p50=304.26, fps=3.29),
          TargetResult("executorch-int8", status="ok, INT8 MACs 61.9% < 90%", precision="int8", psnr=128.451,
                       psnr_drop=-10.017, latency_ms_p50=12345.67, fps=123.45, size_mb=1234.56, int8_mac_share=0.619)]
WIDEST += [TargetResult(f"onnx-{i}", status=REASON) for i in range(10)]  # a two-digit note number


def test_the_table_fits_80_columns_and_shows_every_number(capsys):
    print_table(WIDEST)
    text = capsys.readouterr().out
    assert max(len(line) for line in text.splitlines()) <= TERMINAL_WIDTH and "…" not in text
    rows = {line.split()[0]: line for line in text.splitlines()[2:len(WIDEST) + 2]}
    for number in ("28.47", "0.000", "304.3", "3.29", "128.45", "-10.017", "12345.7", "123.45", "61.9%", "1234.6"):
        assert number in text
    assert rows["executorch-int8"].split()[1:3] == ["ok", "[1]"] and rows["onnx-9"].split()[1:3] == ["skipped", "[11]"]


def test_statuses_are_notes_written_out_whole():
    text = terminal_table(WIDEST)
    notes = text.split("\n[2] ", 1)[1].split("\n[3] ", 1)[0]
    assert re.sub(r"\s+", " ", notes).strip() == f"onnx-0: {REASON}"  # wrapped, every word kept, brackets too
    assert "[1] executorch-int8: ok, INT8 MACs 61.9% < 90%" in text


def test_figures_are_numbers_or_null_in_every_report():
    import json

    targets = json.loads(to_json({}, WIDEST, "tiny"))["targets"]
    for row in targets:
        assert all(v is None or isinstance(v, (int, float)) for k, v in row.items() if k not in ("target", "status",
                                                                                            "precision"))
    assert targets[1]["psnr_vs_fp32"] is None  # torch against itself: identical
    assert to_csv(WIDEST).splitlines()[2].split(",")[7] == ""
    assert "| identical |" in to_markdown({}, WIDEST, "tiny")
