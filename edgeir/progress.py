"""Progress for long work, on stderr so that ``--json`` output stays clean.

rich draws live bars where it is installed (the host extras bring it); a device install
without it gets :class:`PlainProgress`, the same small API printing one line now and
then, which is also what a log file under ``nohup`` wants.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

MARKUP = re.compile(r"\[/?[a-z #0-9_.-]*\]")
"""rich console markup such as ``[yellow]...[/]``, dropped by the plain console."""


class PlainConsole:
    def print(self, text: object = "", **_: Any) -> None:
        print(MARKUP.sub("", str(text)), file=sys.stderr, flush=True)


class _Task:
    def __init__(self, description: str, total: float | None, completed: float) -> None:
        self.description, self.total, self.completed = description, total, completed
        self.started = self.shown = time.perf_counter()  # the first line after ``every`` seconds


class PlainProgress:
    """``rich.progress.Progress``'s calls edgeir makes, as a line every ``every`` seconds
    and one when a task completes."""

    def __init__(self, unit: str = "frames", every: float = 5.0) -> None:
        self.unit, self.every = unit, every
        self.console = PlainConsole()
        self.disable = False
        self._tasks: list[_Task] = []

    def add_task(self, description: str, total: float | None = None, completed: float = 0) -> int:
        self._tasks.append(_Task(description, total, completed))
        return len(self._tasks) - 1

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def update(self, task_id: int, *, advance: float = 0, description: str | None = None,
               completed: float | None = None, total: float | None = None) -> None:
        task = self._tasks[task_id]
        if description is not None:
            task.description = description
        if total is not None:
            task.total = total
        task.completed = completed if completed is not None else task.completed + advance
        now = time.perf_counter()
        done = task.total is not None and task.completed >= task.total
        if not self.disable and (done or now - task.shown >= self.every):
            task.shown = now
            self.console.print(self._line(task, now))

    def _line(self, task: _Task, now: float) -> str:
        elapsed = now - task.started
        count = f"{task.completed:g}" + (f"/{task.total:g}" if task.total is not None else "")
        rate = f", {task.completed / elapsed:.2f} {self.unit}/s" if elapsed > 0 and task.completed else ""
        return f"{task.description} {count}{rate}, {elapsed:.0f} s"

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def has_rich() -> bool:
    return importlib.util.find_spec("rich") is not None


def progress_bar(unit: str = "frames") -> Any:
    """A rich ``Progress`` where rich is installed, else a :class:`PlainProgress`."""
    if not has_rich():
        return PlainProgress(unit)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.2f} {unit}/s" if speed else f"-- {unit}/s")

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )


HEARTBEAT_S = 15.0


@contextmanager
def heartbeat(every: float = HEARTBEAT_S) -> Iterator[None]:
    """Steps that run inside one library call for minutes (ModelOpt AutoCast, a pnnx or
    coremltools conversion) say that they still run: when edgeir has logged nothing for
    ``every`` seconds, a line repeats the current step with the time it has taken. Plain
    log lines, so they read the same in a terminal and in a log file."""
    logger = logging.getLogger("edgeir")
    now = time.monotonic()
    state: dict[str, Any] = {"step": None, "since": now, "said": now}
    lock, stop = threading.Lock(), threading.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if not getattr(record, "heartbeat", False):
                with lock:
                    state.update(step=record.getMessage(), since=time.monotonic(), said=time.monotonic())

    def beat() -> None:
        while not stop.wait(min(1.0, every / 4)):
            with lock:
                step, since, said = state["step"], state["since"], state["said"]
                if step is None or time.monotonic() - said < every:
                    continue
                state["said"] = time.monotonic()
            logger.info("still %s (%.0f s)", step, time.monotonic() - since, extra={"heartbeat": True})

    watch = Watch(logging.INFO)
    logger.addHandler(watch)
    thread = threading.Thread(target=beat, name="edgeir-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        logger.removeHandler(watch)
