"""The measurement shared by the host and device benches."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="exec keeping ru_maxrss is Linux's behaviour")
def test_a_fresh_process_reports_its_own_peak_not_its_parents():
    """Linux carries ru_maxrss across exec: a bench worker started by a process holding torch
    and exports would report the parent's peak as its own."""
    from edgeir.bench.measure import peak_rss_mb

    ballast = np.ones(400 * 2**20, np.uint8)  # 400 MiB touched in this (the parent) process
    parent = peak_rss_mb()
    child = float(subprocess.run(
        [sys.executable, "-c", "from edgeir.bench.measure import peak_rss_mb; print(peak_rss_mb())"],
        capture_output=True, text=True, check=True).stdout)
    assert ballast.sum() == ballast.size and parent > 400
    assert child < parent - 300
