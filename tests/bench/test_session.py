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


def test_sigterm_stops_edgeir_bench_after_one_target_and_keeps_it(tmp_path):
    """The CLI as a user runs it: SIGTERM while the second target exports in its own process."""
    import json
    import signal
    import subprocess
    import sys

    out = tmp_path / "bench"
    command = [sys.executable, "-m", "edgeir.cli", "bench", "--targets", "torch,onnx", "--limit", "1", "--runs", "2",
               "--warmup", "0", "-o", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    report = out / "report.json"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if report.is_file() and any(t["target"] == "torch" for t in json.loads(report.read_text())["targets"]):
            break
        time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, err
    data = json.loads(report.read_text())
    assert [t["target"] for t in data["targets"]] == ["input", "torch"]
    assert data["complete"] is False and data["not_measured"] == ["onnx"]
    assert ": 1 of 2 target(s) measured, written to " in err and "--resume measures the rest" in err
