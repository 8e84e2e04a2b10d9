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

HEADERS = {"int8_mac_share": "INT8 MACs"}
"""Column titles of report.md and the terminal table where they are not the field's name
(report.json and report.csv keep the names)."""
PERCENT = frozenset({"int8_mac_share"})
"""Fields held as 0..1 and shown as percentages."""


def plain(value: Any) -> Any:
    """JSON has no infinity: the PSNR of an exact match (torch against itself, identical
    tensors) is written as null, so that every figure stays a number or null."""
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


def to_json(machine: dict[str, Any], results: list[TargetResult], evaluation: str,
            run: dict[str, Any] | None = None) -> str:
    """``run``: what the run was (``weights``, ``settings``), whether it is ``complete`` and
    which targets it did ``not_measure`` (a stopped run)."""
    rows = [{k: plain(v) for k, v in r.row().items()} for r in results]
    return json.dumps({"machine": machine, "evaluation": evaluation, **(run or {}), "targets": rows},
                      indent=2) + "\n"


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
        return "identical" if math.isinf(value) else f"{value:g}"
    return str(value)


def _machine_value(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(value) or "none of those listed"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def _run_lines(run: dict[str, Any] | None) -> list[str]:
    if not run:
        return []
    lines = []
    weights = run.get("weights")
    if weights:
        facts = [fact for fact in (weights.get("path"), weights.get("sha256") and f"sha256 {weights['sha256']}")
                 if fact]
        lines += [f"Weights: {weights['description']}" + (f" ({', '.join(facts)})" if facts else "") + ".", ""]
    if run.get("complete") is False:
        missing = ", ".join(run.get("not_measured", [])) or "none"
        lines += [f"**Stopped before the end**: not measured: {missing} (`--resume` measures them).", ""]
    return lines


def to_markdown(machine: dict[str, Any], results: list[TargetResult], evaluation: str,
                run: dict[str, Any] | None = None) -> str:
    lines = [
        "# edgeir bench", "",
        f"Evaluation: {evaluation}.", "",
        *_run_lines(run),
        "Machine: " + "; ".join(f"{k} {_machine_value(v)}" for k, v in machine.items() if k != "libraries"), "",
        "Libraries: " + ", ".join(f"{k} {v}" for k, v in machine.get("libraries", {}).items()), "",
        "| " + " | ".join(HEADERS.get(name, name) for name in FIELDS) + " |",
        "|" + "---|" * len(FIELDS),
    ]
    for result in results:
        lines.append("| " + " | ".join(_cell(v, name) for name, v in result.row().items()) + " |")
    return "\n".join(lines) + "\n"


TERMINAL_WIDTH = 80
TERMINAL_COLUMNS = (("target", "target", "{}"), ("status", "status", "{}"), ("PSNR dB", "psnr", "{:.2f}"),
                    ("drop dB", "psnr_drop", "{:.3f}"), ("ms p50", "latency_ms_p50", "{:.1f}"),
                    ("FPS", "fps", "{:.2f}"), ("INT8", "int8_mac_share", "{:.1%}"), ("MB", "size_mb", "{:.1f}"))
"""The terminal table's columns (title, field, format): what tells targets apart, within 80
columns; report.md and report.json hold every field. A status other than ``ok`` becomes a
numbered note under the table, written out whole."""


def _status_cell(status: str, notes: list[str], target: str) -> str:
    if status == "ok":
        return status
    notes.append(f"{target}: {status}")
    word = status.split(":")[0].split(",")[0]
    return f"{word} [{len(notes)}]"


def terminal_table(results: list[TargetResult], width: int = TERMINAL_WIDTH) -> str:
    """The bench's table as text that fits ``width`` columns, every number whole; the
    statuses that say more than ``ok`` follow as notes, wrapped, never cut."""
    import textwrap

    notes: list[str] = []
    rows = [[title for title, _, _ in TERMINAL_COLUMNS]]
    for result in results:
        row = result.row()
        cells = []
        for _, name, form in TERMINAL_COLUMNS:
            value = row[name]
            if name == "status":
                cells.append(_status_cell(value, notes, result.target))
            elif value is None or (isinstance(value, float) and math.isinf(value)):
                cells.append("-" if value is None else "inf")
            else:
                cells.append(form.format(value))
        rows.append(cells)
    widths = [max(len(row[i]) for row in rows) for i in range(len(TERMINAL_COLUMNS))]
    lines = []
    for row in rows:
        cells = [cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    for number, note in enumerate(notes, 1):
        lines += textwrap.wrap(note, width, initial_indent=f"[{number}] ", subsequent_indent="    ",
                               break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines)


def print_table(results: list[TargetResult]) -> None:
    print(terminal_table(results))


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h")
"""One per target of ``--targets all`` (with the colours, no two targets look alike)."""


def _plot_psnr_vs_fps(results: list[TargetResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    measured = [r for r in results if r.ok and r.fps and r.psnr_drop is not None]
    figure, axes = plt.subplots(figsize=(8.5, 4.5))
    # A legend, not labels beside the points: targets of nearly equal speed and drop
    # (onnx and onnx-fp16 on a CPU) put their labels on top of each other.
    colors = plt.get_cmap("tab10").colors
    for index, result in enumerate(measured):
        axes.scatter(result.fps, result.psnr_drop, label=result.target, color=colors[index % len(colors)],
                     marker=MARKERS[index % len(MARKERS)], s=48)
    if measured:  # beside the axes: over them it can hide points
        axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small", borderaxespad=0.0)
    left_out = [f"{r.target} ({r.status.split(':')[0]})" for r in results
                if r.target != "input" and r not in measured]
    if left_out:
        import textwrap

        note = textwrap.fill("not plotted (no speed or PSNR drop measured): " + ", ".join(left_out), 110)
        figure.text(0.01, 0.01, note, fontsize="x-small", va="bottom")
        figure.subplots_adjust(bottom=0.12 + 0.03 * note.count("\n"))
    axes.set_xlabel("frames per second (batch 1)")
    axes.set_ylabel("PSNR drop vs torch FP32 (dB)")
    axes.axhline(0.0, color="grey", linewidth=0.5)
    axes.set_title("PSNR drop against speed, per target")
    figure.tight_layout(rect=(0, 0.06 if left_out else 0, 1, 1))
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=120)
    plt.close(figure)


def _plot_samples(results: list[TargetResult], blurred: np.ndarray, sharp: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgeir.bench.measure import sample_crop
    from edgeir.bench.metrics import psnr, to_unit_8bit

    truth = sample_crop(sharp)
    panels = [("input", sample_crop(blurred))]
    panels += [(r.target, r.extra["sample"]) for r in results if r.extra.get("sample") is not None]
    figure, axes = plt.subplots(1, len(panels) + 1, figsize=(2.2 * (len(panels) + 1), 2.8), squeeze=False)
    for axis, (title, image) in zip(axes[0], [*panels, ("ground truth", truth)]):
        axis.imshow(to_unit_8bit(image))
        if title != "ground truth":  # the crop's own PSNR against the sharp crop
            value = psnr(image, truth)
            title += "\n" + ("identical" if math.isinf(value) else f"{value:.2f} dB")
        axis.set_title(title, fontsize=8)
        axis.axis("off")
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=120)
    plt.close(figure)


def write_reports(out: Path, machine: dict[str, Any], results: list[TargetResult], evaluation: str,
                  first_pair: tuple[np.ndarray, np.ndarray], run: dict[str, Any] | None = None,
                  plots: bool = True) -> dict[str, Path]:
    """Every report; ``plots=False`` writes the numbers only (after each target of a run: the
    plots, seconds each, are drawn at its end or when it is stopped)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "csv": out / "report.csv", "md": out / "report.md",
             "plot": out / "psnr_vs_fps.png", "samples": out / "samples.png"}
    for key, text in (("json", to_json(machine, results, evaluation, run)), ("csv", to_csv(results)),
                      ("md", to_markdown(machine, results, evaluation, run))):
        with atomic_path(paths[key]) as temp:
            temp.write_text(text)
    if not plots or importlib.util.find_spec("matplotlib") is None:  # a device install: the numbers
        return {k: v for k, v in paths.items() if k not in ("plot", "samples")}
    _plot_psnr_vs_fps(results, paths["plot"])
    _plot_samples(results, *first_pair, paths["samples"])
    return paths


__all__ = ["plain", "print_table", "to_csv", "to_json", "to_markdown", "write_reports"]
