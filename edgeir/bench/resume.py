"""``edgeir bench --resume``: the rows an earlier run into the same ``--out`` measured with
the same settings, and what the bench keeps beside its reports so that they can be reused
(torch's outputs, which every later target is compared with, and the sample crops of
``samples.png``), in the bench's cache folder ``OUT/models``."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.bench.measure import FIELDS, TargetResult
from edgeir.errors import EdgeIRError
from edgeir.fileio import atomic_path

log = logging.getLogger("edgeir")

REFERENCE = "torch"


class Saved:
    """torch's outputs and the sample crops of the run in ``out``."""

    def __init__(self, out: Path) -> None:
        self.folder = out / "models"
        self.reference_path = self.folder / "torch_outputs.npz"
        self.reference_row_path = self.folder / "torch_row.json"
        self.samples_path = self.folder / "samples.npz"

    def _write(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as temp, open(temp, "wb") as handle:
            np.savez(handle, **arrays)

    def keep_reference(self, outputs: list[np.ndarray] | None, row: TargetResult) -> None:
        """torch's outputs and its row: a resumed run compares with them whether or not
        torch is a row of its report."""
        if outputs is not None:
            self._write(self.reference_path, {f"frame_{i:05d}": o for i, o in enumerate(outputs)})
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.reference_row_path) as temp:
                temp.write_text(json.dumps({k: v for k, v in row.row().items() if k != "psnr_vs_fp32"}))

    def reference_row(self) -> TargetResult | None:
        if not self.reference_row_path.is_file():
            return None
        return _row(json.loads(self.reference_row_path.read_text()))

    def reference(self) -> list[np.ndarray] | None:
        if not self.reference_path.is_file():
            return None
        with np.load(self.reference_path) as saved:
            return [saved[name] for name in sorted(saved.files)]

    def _samples(self) -> dict[str, np.ndarray]:
        if not self.samples_path.is_file():
            return {}
        with np.load(self.samples_path) as saved:
            return {name: saved[name] for name in saved.files}

    def keep_sample(self, result: TargetResult) -> None:
        sample = result.extra.get("sample")
        if sample is not None:
            self._write(self.samples_path, {**self._samples(), result.target: sample})

    def sample(self, target: str) -> np.ndarray | None:
        return self._samples().get(target)


def _first_difference(before: dict[str, Any], now: dict[str, Any]) -> str:
    key = next(k for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k))
    return f"{key} {now.get(key)!r} where it had {before.get(key)!r}"


def previous_run(out: Path, settings: dict[str, Any], order: list[str], saved: Saved) -> dict[str, TargetResult]:
    """The targets of ``order`` that the run in ``out`` measured (status ``ok``), by name;
    an error when that run had other settings (its figures would not compare)."""
    path = out / "report.json"
    if not path.is_file():
        log.info("nothing to resume in %s: every target is measured", out)
        return {}
    try:
        report = json.loads(path.read_text())
        before, rows = report["settings"], report["targets"]
    except (OSError, ValueError, KeyError, TypeError):
        raise EdgeIRError(f"expected an edgeir bench report.json with its settings in {out} to resume, found "
                          f"one without: run without --resume (its reports are replaced)") from None
    now = json.loads(json.dumps(settings))
    if before != now:
        raise EdgeIRError(f"expected the settings of the run in {out} to resume it, found {_first_difference(before, now)}"
                          ": run without --resume (its reports are replaced), or with the same settings")
    kept: dict[str, TargetResult] = {}
    for row in rows:
        status = str(row.get("status", ""))
        if row.get("target") in (REFERENCE, None) or row["target"] not in order:
            continue
        if status == "ok" or status.startswith("ok, "):
            kept[row["target"]] = _row(row, saved)
    torch_row = saved.reference_row()
    if torch_row is not None and saved.reference() is not None:  # both, or torch runs again
        kept[REFERENCE] = _row(torch_row.row(), saved)
    return kept


def _row(row: dict[str, Any], saved: Saved | None = None) -> TargetResult:
    result = TargetResult(**{name: row.get(name) for name in FIELDS})
    if result.psnr_vs_fp32 is None:  # null in report.json: identical to torch FP32 (or torch itself)
        result.psnr_vs_fp32 = math.inf
    sample = saved.sample(result.target) if saved is not None else None
    if sample is not None:
        result.extra["sample"] = sample
    return result
