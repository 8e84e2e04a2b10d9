"""Reaching Ray: a local instance started and stopped for one job, or a cluster joined."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from edgeir.errors import EdgeIRError

RAY_INSTALL = 'pip install "edgeir[ray]"'


def import_ray(why: str) -> ModuleType:
    try:
        import ray
    except ImportError:
        raise EdgeIRError(f"{why} needs Ray, which this install lacks: {RAY_INSTALL}") from None
    return ray


@contextmanager
def ray_cluster(address: str | None, num_cpus: int | None = None) -> Iterator[ModuleType]:
    """Ray, ready. No ``address``: a local instance on this machine, stopped afterwards;
    ``auto`` or ``ray://HOST:PORT``: that cluster, left running. A Ray the caller already
    initialised is used as it is."""
    ray = import_ray("running on Ray")
    if ray.is_initialized():
        yield ray
        return
    options = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address is None:
            ray.init(num_cpus=num_cpus, **options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        where = f"at {address}" if address else "on this machine"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgeIRError(f"expected to start or reach a Ray cluster {where}: {first}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def check_resources(ray: ModuleType, workers: int, cpus: float, gpus: float) -> None:
    """Refuse a pool the cluster cannot place: Ray would wait for it forever."""
    total = ray.cluster_resources()
    for name, each in (("CPU", cpus), ("GPU", gpus)):
        need, have = workers * each, float(total.get(name, 0))
        if need > have:
            flag = "--threads" if name == "CPU" else "--gpus-per-worker"
            raise EdgeIRError(f"expected a cluster with {need:g} {name}s for {workers} worker(s) of {each:g} "
                              f"{name}(s) each, found {have:g}: lower --workers or {flag}")
