"""One bench run over its targets, as a user follows it: the plan first, then each target
with the step it is in (exporting and the export's stage, evaluating frame k/N, timing run
k/N), a line as each one ends, and the reports written after every target and when the
run is stopped (Ctrl-C, SIGTERM), so a stopped run keeps what it measured.

Shared by the host bench and the device bench of a bundle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgeir.bench.measure import TargetResult
from edgeir.bench.steps import Steps
from edgeir.errors import Terminated


class BarSteps(Steps):
    """A target's steps on the bench's bar; counted steps show ``done/total``."""

    def __init__(self, bar: Any, task: Any, target: str) -> None:
        self.bar, self.task, self.target = bar, task, target

    def step(self, description: str, done: int | None = None, total: int | None = None) -> None:
        count = f" {done}/{total}" if done is not None and total is not None else ""
        self.bar.update(self.task, description=f"{self.target}: {description}{count}")

    def say(self, line: str) -> None:
        self.bar.console.print(f"{self.target}: {line}", soft_wrap=True)


def _bar() -> Any:
    from edgeir.progress import PlainProgress, has_rich

    if not has_rich():
        return PlainProgress("steps")
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=False)


def print_plan(lines: list[tuple[str, str]]) -> None:
    """What the run will do, before it starts: ``(label, text)`` lines."""
    import sys

    width = max(len(label) for label, _ in lines)
    for label, text in lines:
        print(f"  {label.ljust(width)}  {text}", file=sys.stderr, flush=True)


def run_targets(order: list[str], measure_one: Callable[[str, Steps], TargetResult],
                done: Callable[[TargetResult], None], stopped: Callable[[], str]) -> None:
    """Measure each target of ``order`` in turn: ``measure_one(target, steps)``, then
    ``done(result)`` (which writes the reports). On Ctrl-C or SIGTERM (``Terminated``, from
    the CLI) ``stopped()`` writes what was measured and returns where; the interruption then
    goes on up."""
    with _bar() as bar:
        overall = bar.add_task(f"targets 0/{len(order)}", total=len(order))
        current = bar.add_task("", total=None)
        measured, doing = 0, "starting"
        try:
            for target in order:
                doing = f"measuring {target}"
                bar.update(overall, description=f"targets {measured}/{len(order)}")
                steps = BarSteps(bar, current, target)
                steps.step("starting")
                result = measure_one(target, steps)
                steps.step("done")
                bar.console.print(f"{target}: {result.summary()}", soft_wrap=True)
                measured += 1
                doing = f"writing the reports after {target}"
                done(result)
                bar.advance(overall)
        except (KeyboardInterrupt, Terminated):
            where = stopped()
            bar.console.print(f"stopped while {doing}: {measured} of {len(order)} target(s) measured, written to "
                              f"{where}; the same command with --resume measures the rest", soft_wrap=True)
            raise
        bar.update(overall, description=f"targets {len(order)}/{len(order)}")
