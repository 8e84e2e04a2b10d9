"""The reliability suite: what a hostile or careless user can hand edgeir.

Every case is marked ``clear_error`` (the right answer is one ``EdgeIRError`` line and
nothing lost) or ``correct_result``; the run ends with a table of passed cases by class and
module (docs/benchmarks.md, "Reliability"). A failure is counted by what went wrong, so a
run of these cases against older code gives the "before" table: ``hang`` (pytest-timeout or
a test's own timeout stopped it), ``traceback`` (an exception other than the expected
one escaped), ``wrong_error`` (the expected type, saying something else) or ``silent`` (no
error where one was due, or a wrong result).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgeir.fileio import sha256_of
from edgeir.manifest import Manifest, manifest_path
from edgeir.runtimes.base import Runtime, RuntimeInfo

CLASSES = ("clear_error", "correct_result")
_OUTCOMES: Counter = Counter()


class IdentityRuntime(Runtime):
    """A runtime double that returns its input (no network runs) and records the shapes it
    was called with; it checks inputs as every backend does."""

    def __init__(self, shapes=None):
        self.calls: list[tuple[int, ...]] = []
        self.info = RuntimeInfo("identity", "fp32", "cpu", (7, 9, 11), shapes=shapes)

    def _run(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(x.shape)
        return x.copy()


RUNTIMES = {".onnx": "onnxruntime", ".xml": "openvino"}


def fake_export(target: str, output: str | Path, overwrite: bool = False, **request) -> Any:
    """Stands in for ``edgeir.export.export``: the artifact of ``target`` at ``output``, with
    the weights beside an OpenVINO ``.xml`` as its ``.bin``, and a manifest that records the
    sha256 of every file (``artifact.sha256``, ``weights_file``, ``weights_sha256``)."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    weights = np.random.default_rng(0).random(4096, dtype=np.float32).tobytes()
    record = {}
    if output.suffix == ".xml":
        output.write_text('<?xml version="1.0"?>\n<net name="double" version="11"/>\n')
        bin_ = output.with_suffix(".bin")
        bin_.write_bytes(weights)
        record = {"weights_file": bin_.name, "weights_sha256": sha256_of(bin_)}
    else:
        output.write_bytes(b"graph of a double" + weights)
    manifest = Manifest(target, "fp32", RUNTIMES[output.suffix], "s", "motion-deblur", {"kind": "random"}, {}, {},
                        {}, {}, {}, artifact={"sha256": sha256_of(output), **record})
    from edgeir.export.request import ExportResult

    return ExportResult(output, manifest.write(manifest_path(output)), manifest)


@pytest.fixture
def identity():
    return IdentityRuntime()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # The closest mark wins: a correct_result test in a module marked clear_error.
    report.reliability_class = next((m.name for m in item.iter_markers() if m.name in CLASSES), None)
    report.failure_kind = failure_kind(call.excinfo) if report.failed else None


HANG_TYPES = ("TimeoutExpired", "TimeoutError")


def failure_kind(excinfo: pytest.ExceptionInfo | None) -> str:
    """What a failing case saw: ``hang``, ``wrong_error``, ``silent`` or ``traceback`` (also
    when an assertion shows a child process's traceback)."""
    if excinfo is None:
        return "traceback"
    text = str(excinfo.value)
    if excinfo.typename in HANG_TYPES or text.startswith("Timeout") or "timed out" in text:
        return "hang"
    if "Traceback (most recent call last)" in text:
        return "traceback"
    if "Regex pattern did not match" in text:  # the expected error type, with another message
        return "wrong_error"
    if excinfo.errisinstance(AssertionError) or "DID NOT RAISE" in text:
        return "silent"
    return "traceback"


def pytest_runtest_logreport(report):
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    kind = getattr(report, "reliability_class", None)
    if kind is None or "reliability" not in report.nodeid:
        return
    module = report.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py").removeprefix("test_")
    if report.outcome == "passed":
        outcome = kind
    else:
        outcome = "skipped" if report.outcome == "skipped" else getattr(report, "failure_kind", None) or "traceback"
    _OUTCOMES[(module, outcome)] += 1


def pytest_terminal_summary(terminalreporter):
    if not _OUTCOMES:
        return
    modules = sorted({m for m, _ in _OUTCOMES})
    columns = ("clear_error", "correct_result", "wrong_error", "traceback", "silent", "hang", "skipped")
    terminalreporter.write_line("\nreliability cases by class (markdown):")
    terminalreporter.write_line(
        "| cases | clear error | correct result | wrong error | traceback | silent | hang | skipped |")
    terminalreporter.write_line("|---|---|---|---|---|---|---|---|")
    for module in modules:
        counts = " | ".join(str(_OUTCOMES[(module, c)]) for c in columns)
        terminalreporter.write_line(f"| {module} | {counts} |")
    totals = " | ".join(str(sum(_OUTCOMES[(m, c)] for m in modules)) for c in columns)
    terminalreporter.write_line(f"| all | {totals} |")
