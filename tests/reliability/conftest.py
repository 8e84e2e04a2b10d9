"""The reliability suite: what a hostile or careless user can hand edgeir.

Every case is marked ``clear_error`` (the right answer is one ``EdgeIRError`` line and
nothing lost) or ``correct_result``; the run ends with a table of passed cases by class and
module, and any failure counts as "other" (docs/benchmarks.md, "Reliability").
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

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


@pytest.fixture
def identity():
    return IdentityRuntime()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # The closest mark wins: a correct_result test in a module marked clear_error.
    report.reliability_class = next((m.name for m in item.iter_markers() if m.name in CLASSES), None)


def pytest_runtest_logreport(report):
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    kind = getattr(report, "reliability_class", None)
    if kind is None or "reliability" not in report.nodeid:
        return
    module = report.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py").removeprefix("test_")
    outcome = kind if report.outcome == "passed" else "skipped" if report.outcome == "skipped" else "other"
    _OUTCOMES[(module, outcome)] += 1


def pytest_terminal_summary(terminalreporter):
    if not _OUTCOMES:
        return
    modules = sorted({m for m, _ in _OUTCOMES})
    columns = ("clear_error", "correct_result", "other", "skipped")
    terminalreporter.write_line("\nreliability cases by class (markdown):")
    terminalreporter.write_line("| cases | clear error | correct result | other | skipped |")
    terminalreporter.write_line("|---|---|---|---|---|")
    for module in modules:
        counts = " | ".join(str(_OUTCOMES[(module, c)]) for c in columns)
        terminalreporter.write_line(f"| {module} | {counts} |")
    totals = " | ".join(str(sum(_OUTCOMES[(m, c)] for m in modules)) for c in columns)
    terminalreporter.write_line(f"| all | {totals} |")
