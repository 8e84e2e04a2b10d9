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
from edgeir.fileio import atomic_path, read_json_object
from edgeir.saved_arrays import check_image, read_arrays
from edgeir.schema import check_fields

log = logging.getLogger("edgeir")

REFERENCE = "torch"
ROW_SCHEMA = {name: "a number or null" for name in FIELDS} | {
    "target": "a string", "status": "a string", "precision": "a string or null"}
"""A row of ``report.json`` (and ``torch_row.json``) as the bench writes it: read back by
``--resume``, so a hand-edited one is refused in one line, not a traceback at the end."""
REPORT_SCHEMA = {"settings": "an object", "targets": "a list of objects"}


class Saved:
    """torch's outputs and the sample crops of the run in ``out``; ``frames`` (the sharp
    frames of this run, when given) are what the saved outputs are checked against."""

    def __init__(self, out: Path, frames: list[np.ndarray] | None = None) -> None:
        self.folder = out / "models"
        self.reference_path = self.folder / "torch_outputs.npz"
        self.reference_row_path = self.folder / "torch_row.json"
        self.samples_path = self.folder / "samples.npz"
        self.frames = frames

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
        row = read_json_object(self.reference_row_path, "torch's row of an edgeir bench")
        check_fields(row, ROW_SCHEMA, self.reference_row_path)
        return _row(row)

    def reference(self) -> list[np.ndarray] | None:
        """torch's outputs: float32 H x W x 3 and finite, and (where ``frames`` were given)
        one per frame of this run, of its shape."""
        if not self.reference_path.is_file():
            return None
        saved = read_arrays(self.reference_path, "torch's outputs")
        names = sorted(saved) if self.frames is None else [f"frame_{i:05d}" for i in range(len(self.frames))]
        if set(names) != set(saved):
            raise EdgeIRError(f"expected torch's outputs on {len(names)} frames ({names[0]}...) in "
                              f"{self.reference_path}, found {len(saved)}: {', '.join(sorted(saved)[:3]) or 'none'}")
        for index, name in enumerate(names):
            shape = None if self.frames is None else self.frames[index].shape
            check_image(saved[name], f"{name} in {self.reference_path}", "float32", shape, "its frame")
        return [saved[name] for name in names]

    def _samples(self) -> dict[str, np.ndarray]:
        if not self.samples_path.is_file():
            return {}
        samples = read_arrays(self.samples_path, "the sample crops")
        for name, sample in samples.items():
            check_image(sample, f"the sample of {name} in {self.samples_path}", "float32")
        return samples

    def keep_sample(self, result: TargetResult) -> None:
        """Add the target's crop to the kept ones; a damaged file of them (this run was not
        resumed from it) is replaced, with a line saying so."""
        sample = result.extra.get("sample")
        if sample is None:
            return
        try:
            kept = self._samples()
        except EdgeIRError as exc:
            log.warning("replacing the sample crops kept in %s: %s", self.samples_path, exc)
            kept = {}
        self._write(self.samples_path, {**kept, result.target: sample})

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
        report = _report(path)
    except EdgeIRError as exc:
        raise EdgeIRError(f"{exc}: run without --resume (its reports are replaced)") from None
    before, rows = report["settings"], report["targets"]
    now = json.loads(json.dumps(settings))
    if before != now:
        raise EdgeIRError(f"expected the settings of the run in {out} to resume it, found {_first_difference(before, now)}"
                          ": run without --resume (its reports are replaced), or with the same settings")
    try:
        return _kept(rows, order, saved)
    except EdgeIRError as exc:
        raise EdgeIRError(f"{exc}: run without --resume (its reports are replaced)") from None


def _report(path: Path) -> dict[str, Any]:
    """``report.json`` with its settings and rows, each of the kinds the bench writes."""
    report = read_json_object(path, "an edgeir bench report to resume")
    check_fields(report, REPORT_SCHEMA, path)
    for number, row in enumerate(report["targets"]):
        check_fields(row, ROW_SCHEMA, path, f"targets[{number}]")
    return report


def _kept(rows: list[dict[str, Any]], order: list[str], saved: Saved) -> dict[str, TargetResult]:
    """The measured rows of ``order``, and torch's when its row and outputs were kept."""
    kept: dict[str, TargetResult] = {}
    for row in rows:
        if row["target"] == REFERENCE or row["target"] not in order:
            continue
        if row["status"] == "ok" or row["status"].startswith("ok, "):
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
