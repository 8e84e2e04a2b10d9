"""Reaching Ray: the install line, the SIGTERM handler kept, a local Ray on loopback only, a
cluster that is not there."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from edgeir.distributed.cluster import import_ray, ray_cluster
from edgeir.errors import EdgeIRError
from tests.serving import listening, loopback


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(EdgeIRError, match=r'edgeir run --ray needs Ray, which this install lacks: pip install "edgeir\[ray\]"'):
        import_ray("edgeir run --ray")


def test_a_local_ray_keeps_the_callers_sigterm_handler_listens_on_loopback_and_stops():
    ray = pytest.importorskip("ray", reason="the ray extra is not installed")
    psutil = pytest.importorskip("psutil", reason="psutil lists the listening sockets")
    if ray.is_initialized():
        pytest.skip("a Ray is already running in this process")

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        token_before = (Path.home() / ".ray" / "auth_token").exists()
        with ray_cluster(None, num_cpus=1) as connection:
            assert connection.started and ray.is_initialized()
            assert signal.getsignal(signal.SIGTERM) is handler  # ray.init's own one is undone
            ray_processes = {p.pid for p in psutil.Process().children(recursive=True)} | {os.getpid()}
            ports = listening(ray_processes)  # GCS, raylet, object manager, agents, the driver
            assert ports, "no listening socket found for Ray's processes"
            assert {p for p in ports if not loopback(p[0])} == set()  # issue 36: not on every interface
            # Its token is its own, in the environment: nothing written under $HOME (unless the user made one).
            assert token_before or not (Path.home() / ".ray" / "auth_token").exists()
        assert not ray.is_initialized()
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.slow  # Ray's client retries for about 30 s before it gives up
def test_an_unreachable_cluster_is_one_line():
    pytest.importorskip("ray", reason="the ray extra is not installed")
    with pytest.raises(EdgeIRError, match="expected to start or reach a Ray cluster at ray://127.0.0.1:1"):
        with ray_cluster("ray://127.0.0.1:1"):
            pass
