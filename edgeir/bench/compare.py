"""``edgeir bench --compare A/report.json B/report.json``: two benchmark reports side by side
(a host and a device, or two devices), as one table and one plot."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from edgeir.errors import EdgeIRError
from edgeir.fileio import atomic_path, read_json_object

COMPARED = ("status", "precision", "psnr", "psnr_drop", "psnr_vs_fp32", "ssim", "latency_ms_p50", "fps",
            "peak_rss_mb")
"""Fields shown for each side."""


def read_report(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    report = read_json_object(path, "a report.json written by edgeir bench")
    if not isinstance(report.get("targets"), list):
        raise EdgeIRError(f"expected an edgeir bench report (with 'targets') in {path}, found another JSON file")
    report["_path"] = str(path)
    return report


def label(report: dict[str, Any]) -> str:
    """A short name for a report's machine: the Jetson model, else the GPU, else the CPU."""
    machine = report.get("machine", {})
    jetson = machine.get("jetson") or {}
    return jetson.get("model") or machine.get("gpu") or machine.get("cpu") or report["_path"]


def rows(first: dict[str, Any], second: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target of either report, in the first report's order."""
    a = {t["target"]: t for t in first["targets"]}
    b = {t["target"]: t for t in second["targets"]}
    names = list(a) + [n for n in b if n not in a]
    return [{"target": n, "a": {k: a.get(n, {}).get(k) for k in COMPARED},
             "b": {k: b.get(n, {}).get(k) for k in COMPARED}} for n in names]


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:g}" if isinstance(value, float) else str(value)


def to_markdown(first: dict[str, Any], second: dict[str, Any], table: list[dict[str, Any]]) -> str:
    names = (label(first), label(second))
    lines = ["# edgeir bench: two reports", "",
             f"A: {names[0]} ({first['_path']}): {first.get('evaluation', '')}", "",
             f"B: {names[1]} ({second['_path']}): {second.get('evaluation', '')}", "",
             "| target | " + " | ".join(f"{k} A | {k} B" for k in COMPARED) + " |",
             "|---|" + "---|---|" * len(COMPARED)]
    for row in table:
        cells = [f"{_cell(row['a'][k])} | {_cell(row['b'][k])}" for k in COMPARED]
        lines.append(f"| {row['target']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plot(first: dict[str, Any], second: dict[str, Any], table: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    shown = [r for r in table if r["a"]["fps"] or r["b"]["fps"]]
    figure, (speed, drop) = plt.subplots(1, 2, figsize=(11, 4.5))
    x = np.arange(len(shown))
    for offset, side, name in ((-0.2, "a", label(first)), (0.2, "b", label(second))):
        speed.bar(x + offset, [r[side]["fps"] or 0 for r in shown], width=0.4, label=f"{side.upper()}: {name}")
        drop.bar(x + offset, [r[side]["psnr_drop"] or 0 for r in shown], width=0.4, label=f"{side.upper()}: {name}")
    for axes, title in ((speed, "frames per second (batch 1)"), (drop, "PSNR drop vs torch FP32 (dB)")):
        axes.set_xticks(x, [r["target"] for r in shown], rotation=30, ha="right", fontsize="small")
        axes.set_title(title)
        axes.legend(fontsize="small")
    figure.tight_layout()
    with atomic_path(path) as temp:
        figure.savefig(temp, format="png", dpi=120)
    plt.close(figure)


def compare_reports(first_path: str | Path, second_path: str | Path, out: Path) -> dict[str, Path]:
    first, second = read_report(first_path), read_report(second_path)
    table = rows(first, second)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"md": out / "compare.md", "json": out / "compare.json"}
    data = {"a": {"report": first["_path"], "machine": first.get("machine")},
            "b": {"report": second["_path"], "machine": second.get("machine")}, "targets": table}
    for key, text in (("md", to_markdown(first, second, table)), ("json", json.dumps(data, indent=2) + "\n")):
        with atomic_path(paths[key]) as temp:
            temp.write_text(text)
    if importlib.util.find_spec("matplotlib") is not None:
        paths["plot"] = out / "compare.png"
        _plot(first, second, table, paths["plot"])
    return paths
