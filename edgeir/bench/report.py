"""The benchmark's reports: ``report.json``, ``report.csv``, ``report.md``, a terminal table,
``psnr_vs_fps.png`` and ``samples.png``, all written atomically into ``--out``."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.bench.measure import FIELDS, TargetResult
from edgeir.fileio import atomic_path

STATUS_WIDTH = 40
STATUS_MIN_WIDTH = 16
"""A narrow terminal still gives a skip reason a readable column."""
HEADERS = {"int8_mac_share": "INT8 MACs"}
"""Column titles of report.md and the terminal table where they are not the field's name
(report.json and report.csv keep the names)."""
PERCENT = frozenset({"int8_mac_share"})
"""Fields held as 0..1 and shown as percentages."""


def plain(value: Any) -> Any:
    """JSON has no infinity: an exact match (a target against itself) is written as "inf"."""
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return value


def to_json(machine: dict[str, Any], results: list[TargetResult], evaluation: str) -> str:
    rows = [{k: plain(v) for k, v in r.row().items()} for r in results]
    return json.dumps({"machine": machine, "evaluation": evaluation, "targets": rows}, indent=2) + "\n"


def to_csv(results: list[TargetResult]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(FIELDS))
    writer.writeheader()
    for result in results:
        writer.writerow({k: "" if v is None else plain(v) for k, v in result.row().items()})
    return buffer.getvalue()


def _cell(value: Any, name: str = "") -> str:
    if value is None:
        return "-"
    if name in PERCENT:
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:g}"
    return str(value)


def _machine_value(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(value) or "none of those listed"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def to_markdown(machine: dict[str, Any], results: list[TargetResult], evaluation: str) -> str:
    lines = [
        "# edgeir bench", "",
        f"Evaluation: {evaluation}.", "",
        "Machine: " + "; ".join(f"{k} {_machine_value(v)}" for k, v in machine.items() if k != "libraries"), "",
        "Libraries: " + ", ".join(f"{k} {v}" for k, v in machine.get("libraries", {}).items()), "",
        "| " + " | ".join(HEADERS.get(name, name) for name in FIELDS) + " |",
        "|" + "---|" * len(FIELDS),
    ]
    for result in results:
        lines.append("| " + " | ".join(_cell(v, name) for name, v in result.row().items()) + " |")
    return "\n".join(lines) + "\n"


TABLE_FIELDS = ("target", "status", "precision", "int8_mac_share", "psnr", "psnr_drop", "psnr_vs_fp32", "ssim",
                "latency_ms_p50", "fps", "fps_batch", "size_mb")
"""The columns of the terminal table (report.md and report.json hold every field)."""


def plain_table(results: list[TargetResult]) -> str:
    """The terminal table without rich (a device install): fixed-width text."""
    rows = [[HEADERS.get(name, name) for name in TABLE_FIELDS]]
    rows += [[_cell(r.row()[name], name) for name in TABLE_FIELDS] for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(TABLE_FIELDS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


def _min_width(column: str, results: list[TargetResult]) -> int | None:
    if column == "status":
        return STATUS_MIN_WIDTH
    if column == "target" and results:
        return max(len(r.target) for r in results)
    return None


def print_table(results: list[TargetResult], console: Any = None) -> None:
    import sys

    from edgeir.progress import has_rich

    if not has_rich() and console is None:
        print(plain_table(results))
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title="edgeir bench")
    shown = TABLE_FIELDS
    for name in shown:
        # Long cells wrap (a skip reason over several lines) rather than end in an ellipsis:
        # nothing the run measured or said is cut.
        table.add_column(HEADERS.get(name, name), overflow="fold", no_wrap=name == "target",
                         max_width=STATUS_WIDTH if name == "status" else None,
                         min_width=_min_width(name, results))
    for result in results:
        row = result.row()
        # Text, not markup: a reason such as pip install "edgeir[trt]" keeps its brackets.
        table.add_row(*(Text(_cell(row[name], name)) for name in shown))
    (console or Console(width=None if sys.stdout.isatty() else 160)).print(table)


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h")
"""One per target of ``--targets all`` (with the colours, no two targets look alike)."""


def _plot_psnr_vs_fps(results: list[TargetResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in results if r.ok and r.fps and r.psnr_drop is not None]
    figure, axes = plt.subplots(figsize=(7, 4.5))
    # A legend, not labels beside the points: targets of nearly equal speed and drop
    # (onnx and onnx-fp16 on a CPU) put their labels on top of each other.
    colors = plt.get_cmap("tab10").colors
    for index, result in enumerate(measured):
        axes.scatter(result.fps, result.psnr_drop, label=result.target, color=colors[index % len(colors)],
                     marker=MARKERS[index % len(MARKERS)], s=48)
    if measured:
        axes.legend(loc="best", fontsize="small")
    axes.set_xlabel("frames per second (batch 1)")
    axes.set_ylabel("PSNR drop vs torch FP32 (dB)")
    axes.axhline(0.0, color="grey", linewidth=0.5)
    axes.set_title("PSNR drop against speed, per target")
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=120)
    plt.close(figure)


def _plot_samples(results: list[TargetResult], blurred: np.ndarray, sharp: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgeir.bench.measure import sample_crop
    from edgeir.bench.metrics import to_unit_8bit

    panels = [("input", sample_crop(blurred))]
    panels += [(r.target, r.extra["sample"]) for r in results if r.extra.get("sample") is not None]
    panels.append(("ground truth", sample_crop(sharp)))
    figure, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels), 2.6), squeeze=False)
    for axis, (title, image) in zip(axes[0], panels):
        axis.imshow(to_unit_8bit(image))
        axis.set_title(title, fontsize=8)
        axis.axis("off")
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=120)
    plt.close(figure)


def write_reports(out: Path, machine: dict[str, Any], results: list[TargetResult], evaluation: str,
                  first_pair: tuple[np.ndarray, np.ndarray]) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "csv": out / "report.csv", "md": out / "report.md",
             "plot": out / "psnr_vs_fps.png", "samples": out / "samples.png"}
    for key, text in (("json", to_json(machine, results, evaluation)), ("csv", to_csv(results)),
                      ("md", to_markdown(machine, results, evaluation))):
        with atomic_path(paths[key]) as temp:
            temp.write_text(text)
    if importlib.util.find_spec("matplotlib") is None:  # a device install: the numbers are written
        return {k: v for k, v in paths.items() if k not in ("plot", "samples")}
    _plot_psnr_vs_fps(results, paths["plot"])
    _plot_samples(results, *first_pair, paths["samples"])
    return paths


__all__ = ["plain", "print_table", "to_csv", "to_json", "to_markdown", "write_reports"]
