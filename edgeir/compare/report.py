"""Scores of a layer-by-layer comparison, where the error jumps, and how it is shown:
a table, one JSON object, a plot of PSNR along the network.

PSNR is edgeir's one PSNR (``edgeir.bench.metrics.psnr_db``), per frame, averaged with
``mean_db``. A network output lies in [0, 1] and is scored with peak 1, as the export
parity check does; an intermediate activation has no fixed range, so each frame's is
scored with the peak of the reference's (side A's) tensor, its max abs value: 0 dB is an
error as large as the activation itself, whatever that layer's scale.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.bench.metrics import mean_db, psnr_db
from edgeir.compare import DEFAULT_JUMP_DB, ROUNDING_DB


def activation_psnr(reference: np.ndarray, candidate: np.ndarray) -> float:
    """PSNR of one frame's activation with the peak its reference reaches (max abs; 1 for
    an all-zero reference), infinite when identical."""
    peak = float(np.max(np.abs(reference)))
    peak = peak if peak > 0 else 1.0
    return psnr_db(reference / peak, candidate / peak)


@dataclass
class Score:
    """PSNR per frame and the max abs error so far, of a layer or of the output."""

    frames: list[float] = field(default_factory=list)
    max_abs: float = 0.0

    def add(self, reference: np.ndarray, candidate: np.ndarray, layer: bool) -> None:
        """Score a batch, frame by frame (``layer``: activation peak, else peak 1)."""
        if reference.shape != candidate.shape:
            from edgeir.errors import EdgeIRError

            raise EdgeIRError(f"expected tensors of one shape on both sides, found {reference.shape} and "
                              f"{candidate.shape}")
        for ref, cand in zip(reference, candidate):
            self.frames.append(activation_psnr(ref, cand) if layer else psnr_db(ref, cand))
        diff = np.abs(candidate.astype(np.float64) - reference.astype(np.float64))
        self.max_abs = max(self.max_abs, float(diff.max()) if diff.size else 0.0)

    @property
    def psnr_db(self) -> float:
        return round(mean_db(self.frames), 2)


@dataclass
class LayerResult:
    index: int
    name: str
    """The module path both sides share (``Encoder.0.layers.0.main.0``)."""
    a: str
    b: str
    """The layer's own name on each side (ONNX node, OpenVINO op, module path)."""
    psnr_db: float
    max_abs: float

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "a": self.a, "b": self.b,
                "psnr_db": _plain(self.psnr_db), "max_abs": self.max_abs}


@dataclass
class Jump:
    """The first layer whose PSNR is at least ``threshold_db`` below the previous matched
    layer's (``crossed``), or else the layer of the largest drop."""

    layer: LayerResult
    previous_psnr_db: float
    drop_db: float
    threshold_db: float
    crossed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.layer.index, "name": self.layer.name, "psnr_db": _plain(self.layer.psnr_db),
                "previous_psnr_db": _plain(self.previous_psnr_db), "drop_db": _plain(round(self.drop_db, 2)),
                "threshold_db": self.threshold_db, "crossed": self.crossed}


def find_jump(layers: list[LayerResult], threshold_db: float = DEFAULT_JUMP_DB) -> Jump | None:
    """Where the error jumps along the network: the first layer at least ``threshold_db``
    below the one before it (from identical to any error is an infinite drop), else the
    largest drop; None when PSNR never drops below :data:`ROUNDING_DB` (identical sides,
    rounding only, or error only shrinking)."""
    largest: Jump | None = None
    for before, layer in zip(layers, layers[1:]):
        if layer.psnr_db >= ROUNDING_DB:
            continue
        drop = before.psnr_db - layer.psnr_db
        if drop >= threshold_db:
            return Jump(layer, before.psnr_db, drop, threshold_db, True)
        if drop > 0 and (largest is None or drop > largest.drop_db):
            largest = Jump(layer, before.psnr_db, drop, threshold_db, False)
    return largest


def find_worst(layers: list[LayerResult]) -> LayerResult | None:
    """The layer of lowest PSNR; None when every layer is identical."""
    finite = [layer for layer in layers if math.isfinite(layer.psnr_db)]
    return min(finite, key=lambda layer: layer.psnr_db) if finite else None


@dataclass
class Comparison:
    """The result of ``edgeir compare``: A is the reference, B the candidate."""

    a: str
    b: str
    frames: dict[str, Any]
    """``source``, ``count``, ``size`` [H, W] and ``batch`` of the frames both sides ran."""
    layers: list[LayerResult]
    unmatched_a: list[str]
    unmatched_b: list[str]
    output: Score
    threshold_db: float = DEFAULT_JUMP_DB
    notes: list[str] = field(default_factory=list)

    @property
    def jump(self) -> Jump | None:
        return find_jump(self.layers, self.threshold_db)

    @property
    def worst(self) -> LayerResult | None:
        return find_worst(self.layers)

    def to_dict(self) -> dict[str, Any]:
        jump, worst = self.jump, self.worst
        return {
            "a": self.a,
            "b": self.b,
            "reference": "a",
            "frames": self.frames,
            "matched": len(self.layers),
            "unmatched": {"a": len(self.unmatched_a), "b": len(self.unmatched_b)},
            "unmatched_layers": {"a": self.unmatched_a, "b": self.unmatched_b},
            "layers": [layer.to_dict() for layer in self.layers],
            "jump": jump.to_dict() if jump else None,
            "worst": worst.to_dict() if worst else None,
            "output": {"psnr_db": _plain(self.output.psnr_db), "max_abs": self.output.max_abs},
            "psnr_peak": "layers: max abs of A's activation, per frame; output: 1",
            "notes": self.notes,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _plain(value: float) -> Any:
    """JSON has no infinity: identical tensors are written as null, as bench reports do."""
    from edgeir.bench.report import plain

    return plain(value)


def _db(value: float) -> str:
    return "identical" if math.isinf(value) else f"{value:.2f}"


def _frames(frames: dict[str, Any]) -> str:
    h, w = frames["size"]
    return f"{frames['count']} frame(s) of {h}x{w}, batch {frames['batch']}, from {frames['source']}"


def summary_lines(result: Comparison) -> list[str]:
    """What the table is about (before it) and what it says (after it)."""
    matched = len(result.layers)
    head = [
        f"A (reference): {result.a}",
        f"B:             {result.b}",
        f"frames:        {_frames(result.frames)}",
        f"layers:        {matched} convolutions matched by module path; unmatched: "
        f"{len(result.unmatched_a)} in A, {len(result.unmatched_b)} in B",
    ]
    for side, names in (("A", result.unmatched_a), ("B", result.unmatched_b)):
        if names:
            more = f" (+{len(names) - 5} more)" if len(names) > 5 else ""
            head.append(f"  only in {side}: {', '.join(names[:5])}{more}")
    return head + [f"note: {note}" for note in result.notes]


def verdict_lines(result: Comparison) -> list[str]:
    out = result.output
    lines = [f"output:  PSNR {_db(out.psnr_db)} dB (peak 1), max abs {out.max_abs:.3g}"]
    jump = result.jump
    if jump is None:
        lines.append("jump:    none (PSNR never drops from one layer to the next)")
    else:
        how = (f"first drop of at least {jump.threshold_db:g} dB" if jump.crossed
               else f"largest drop; none reaches {jump.threshold_db:g} dB")
        lines.append(f"jump:    #{jump.layer.index} {jump.layer.name}: {_db(jump.previous_psnr_db)} -> "
                     f"{_db(jump.layer.psnr_db)} dB ({how})")
    worst = result.worst
    lines.append("worst:   none (every layer identical)" if worst is None else
                 f"worst:   #{worst.index} {worst.name}: {_db(worst.psnr_db)} dB, max abs {worst.max_abs:.3g}")
    return lines


def table_rows(result: Comparison) -> list[list[str]]:
    jump, worst = result.jump, result.worst
    rows = []
    for layer in result.layers:
        marks = [m for m, hit in (("jump", jump is not None and jump.layer is layer),
                                  ("worst", worst is layer)) if hit]
        rows.append([str(layer.index), layer.name, _db(layer.psnr_db), f"{layer.max_abs:.3g}", ", ".join(marks)])
    return rows


COLUMNS = ("#", "layer", "PSNR dB", "max abs", "")


def plain_table(result: Comparison) -> str:
    """The table as fixed-width text."""
    rows = [list(COLUMNS)] + table_rows(result)
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(c.rjust(w) if i in (0, 2, 3) else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths))).rstrip() for row in rows)


def print_report(result: Comparison) -> None:
    """The summary, the per-layer table (rich where installed and on a terminal, plain text
    otherwise, so a pipe or a log gets clean columns) and the verdict, on stdout."""
    import sys

    from edgeir.progress import has_rich

    print("\n".join(summary_lines(result)))
    if has_rich() and sys.stdout.isatty():
        from rich import box
        from rich.console import Console
        from rich.table import Table

        table = Table(box=box.SIMPLE_HEAD)
        for index, name in enumerate(COLUMNS):
            table.add_column(name, justify="right" if index in (0, 2, 3) else "left", no_wrap=index == 1)
        for row in table_rows(result):
            table.add_row(*row, style="bold red" if row[4] else None)
        Console().print(table)
    else:
        print(plain_table(result))
    print("\n".join(verdict_lines(result)))


def write_plot(result: Comparison, path: str | Path) -> Path:
    """PSNR per layer along the network, the jump and the worst layer marked, written
    atomically. Identical layers (infinite PSNR) are drawn at the top of the axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgeir.fileio import atomic_path

    path = Path(path)
    values = [layer.psnr_db for layer in result.layers]
    finite = [v for v in values if math.isfinite(v)]
    top = (max(finite) + 10.0) if finite else 100.0
    shown = [v if math.isfinite(v) else top for v in values]
    figure, axes = plt.subplots(figsize=(11, 4.5))
    axes.plot(range(len(shown)), shown, marker=".", linewidth=1, label="PSNR of the layer's output (dB)")
    if finite and len(finite) < len(values):
        axes.axhline(top, color="grey", linestyle=":", linewidth=0.8, label="identical")
    jump, worst = result.jump, result.worst
    if jump is not None:
        axes.axvline(jump.layer.index, color="tab:red", linestyle="--", linewidth=1,
                     label=f"jump: {jump.layer.name}")
    if worst is not None:
        axes.scatter([worst.index], [worst.psnr_db], color="tab:red", zorder=3, label=f"worst: {worst.name}")
    axes.set_xlabel("convolution, in execution order")
    axes.set_ylabel("PSNR vs A (dB, peak: max |A|)")
    axes.set_title(f"B against A, layer by layer (output: {_db(result.output.psnr_db)} dB)", fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    figure.text(0.01, 0.01, f"A: {result.a}\nB: {result.b}", fontsize=7, va="bottom")
    figure.tight_layout(rect=(0, 0.08, 1, 1))
    try:
        with atomic_path(path) as temp:
            figure.savefig(temp, format="png", dpi=120)
    finally:
        plt.close(figure)
    return path
