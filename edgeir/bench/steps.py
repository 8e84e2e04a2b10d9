"""What a target is doing while it is benchmarked: exporting, evaluating frame k of N,
timing run k of N.

A target is exported and measured in processes of its own (``measure.in_fresh_process``),
so its steps travel to the bench's progress bar through a pipe: the child calls a
:class:`PipeSteps`, the parent reads the pipe and calls its own :class:`Steps`. The
export's log lines are steps too, so minutes of exporting say which stage they are in;
its warnings are kept as lines of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Steps:
    """Nobody watching (a bench run from Python without a bar); the bar's steps override."""

    def step(self, description: str, done: int | None = None, total: int | None = None) -> None:
        """The current step, and how far it is (``done`` of ``total``; None: not counted)."""

    def say(self, line: str) -> None:
        """A line to keep in the output (a warning of the export)."""


class PipeSteps(Steps):
    """Steps of a child process, sent to the parent as they happen (picklable: it holds the
    pipe's writing end only). Sent before a timed run starts, never during one."""

    def __init__(self, channel: Any) -> None:
        self.channel = channel

    def step(self, description: str, done: int | None = None, total: int | None = None) -> None:
        self.channel.send(("step", (description, done, total)))

    def say(self, line: str) -> None:
        self.channel.send(("say", line))


class _LogAsSteps(logging.Handler):
    def __init__(self, steps: Steps, prefix: str) -> None:
        super().__init__(logging.INFO)
        self.steps, self.prefix = steps, prefix

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.levelno >= logging.WARNING:
            self.steps.say(f"{self.prefix}: {message}")
        elif message:
            self.steps.step(f"{self.prefix}: {message.splitlines()[0]}")


@contextmanager
def logged_as_steps(steps: Steps, prefix: str) -> Iterator[None]:
    """Within the block, each edgeir log line at INFO becomes the step ``PREFIX: LINE`` and
    each warning a line said."""
    logger = logging.getLogger("edgeir")
    handler, level, propagate = _LogAsSteps(steps, prefix), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.propagate = False  # the lines reach the terminal through the steps, once
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    steps.step(prefix)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
