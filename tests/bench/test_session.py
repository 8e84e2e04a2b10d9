"""A target's steps travel from its process to the bench's bar, a dying process fails its
target only, and a stopped bench stops the process it is waiting for."""

import os
import time

import pytest

from edgeir.bench.measure import TargetResult, in_fresh_process
from edgeir.bench.steps import Steps


class Recorded(Steps):
    def __init__(self, stop_on: str | None = None) -> None:
        self.steps, self.said, self.stop_on = [], [], stop_on

    def step(self, description, done=None, total=None):
        self.steps.append((description, done, total))
        if self.stop_on is not None and description.startswith(self.stop_on):
            raise KeyboardInterrupt

    def say(self, line):
        self.said.append(line)


def _counting(count, steps):
    for index in range(count):
        steps.step("counting", index, count)
    steps.say("a warning")
    return TargetResult("tiny", psnr=30.0)


def _dying(steps):
    os._exit(3)


def _sleeping(steps):
    steps.step(f"pid {os.getpid()}")
    time.sleep(120)


def test_the_steps_of_a_child_reach_the_parent():
    recorded = Recorded()
    result = in_fresh_process("tiny", "running", _counting, 3, steps=recorded)
    assert result.psnr == 30.0
    assert recorded.steps == [("counting", 0, 3), ("counting", 1, 3), ("counting", 2, 3)]
    assert recorded.said == ["a warning"]


def test_a_child_that_dies_fails_its_target_only():
    result = in_fresh_process("tiny", "running", _dying)
    assert result.status == "failed: the process running it died (crash or out of memory)"


def test_a_stopped_bench_stops_the_child_it_waits_for():
    recorded, started = Recorded(stop_on="pid"), time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        in_fresh_process("tiny", "running", _sleeping, steps=recorded)
    assert time.perf_counter() - started < 30  # not the child's 120 s
    pid = int(recorded.steps[0][0].split()[1])
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # terminated and reaped
