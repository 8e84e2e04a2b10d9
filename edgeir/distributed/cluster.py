"""Reaching Ray: a local instance started and stopped for one job, or a cluster joined;
shared by ``edgeir run --ray`` and ``edgeir serve``."""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from edgeir.errors import EdgeIRError

RAY_INSTALL = 'pip install "edgeir[ray]"'


def import_ray(why: str) -> ModuleType:
    try:
        import ray
    except ImportError:
        raise EdgeIRError(f"{why} needs Ray, which this install lacks: {RAY_INSTALL}") from None
    return ray


@dataclass(frozen=True)
class Connection:
    ray: ModuleType
    started: bool
    """A Ray instance started here for this job (stopped at the end), not a cluster joined
    or a Ray the caller had initialised."""


@contextmanager
def _keeping_sigterm() -> Iterator[None]:
    """``ray.init`` replaces the SIGTERM handler (with ``sys.exit`` and a crash reporter that
    can abort); put the one from before back, so that ``docker stop`` or systemd stops a job
    as cleanly as Ctrl-C, partial files removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if handler is None else handler)


@contextmanager
def _node_on_loopback() -> Iterator[None]:
    """A local Ray's internal services (GCS, raylet, object store, agents, workers) listen on
    its node's address, which Ray takes from the interface the machine reaches out on: open
    to the network, though nothing outside this machine uses them (Serve's HTTP port is bound
    to ``--host`` on its own). Where Ray runs without clusters (its default on Windows and
    macOS, ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read when Ray is imported) the node is
    loopback; a local instance is started so here, whether Ray was imported before or not
    (tests/distributed/test_cluster.py lists the ports: a Ray without the setting fails it)."""
    from ray._private import ray_constants

    previous = getattr(ray_constants, "ENABLE_RAY_CLUSTER", True)
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = previous


AUTH_VARIABLES = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")
"""How a user chooses Ray's token authentication themselves."""


_TOKEN: list[str] = []


def _process_token() -> str:
    """One token for every local Ray this process starts: Ray's driver caches the first token
    it reads, so a second instance with another one could not be reached."""
    if not _TOKEN:
        _TOKEN.append(secrets.token_hex(32))
    return _TOKEN[0]


@contextmanager
def _session_token(local: bool) -> Iterator[None]:
    """A local Ray's authentication token, for this instance only. Ray enables token
    authentication for a new local instance and, unless told a token, writes one to
    ``~/.ray/auth_token``: a file outside edgeir's outputs and caches. Given a fresh token in
    ``RAY_AUTH_TOKEN`` (inherited by Ray's processes, gone when the instance stops),
    authentication stays on and nothing is written (one token per process, see
    ``_process_token``). A token or mode the user chose (the
    variables above, or ``~/.ray/auth_token`` made by ``ray get-auth-token --generate``) is
    used as it is, as is everything when joining a cluster."""
    if not local or any(name in os.environ for name in AUTH_VARIABLES) or Path.home().joinpath(
            ".ray", "auth_token").exists():
        yield
        return
    os.environ["RAY_AUTH_TOKEN"] = _process_token()
    try:
        yield
    finally:  # ray.init sets RAY_AUTH_MODE too: unset both, so the next start is as unchosen as this one
        for name in AUTH_VARIABLES:
            os.environ.pop(name, None)


@contextmanager
def ray_cluster(address: str | None, num_cpus: int | None = None, why: str = "running on Ray",
                before_start: Callable[[], None] | None = None) -> Iterator[Connection]:
    """Ray, ready. No ``address``: a local instance of its own (even where ``ray start`` or
    RAY_ADDRESS point elsewhere), listening on loopback only, stopped afterwards; ``auto``
    or ``ray://HOST:PORT``: that cluster, joined and left running. A Ray the caller
    initialised is used as it is. ``before_start`` checks what must hold before a local
    instance is worth starting."""
    ray = import_ray(why)
    if ray.is_initialized():
        yield Connection(ray, started=False)
        return
    options = {"include_dashboard": False, "logging_level": logging.WARNING, "log_to_driver": False}
    if address is None and before_start is not None:
        before_start()
    with _session_token(local=address is None):
        try:
            with _keeping_sigterm():
                if address is None:
                    with _node_on_loopback():
                        ray.init(address="local", num_cpus=num_cpus, **options)
                else:
                    ray.init(address=address, **options)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = f"at {address}" if address else "on this machine"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EdgeIRError(f"expected to start or reach a Ray cluster {where}: {first}") from None
        try:
            yield Connection(ray, started=address is None)
        finally:
            ray.shutdown()  # stops a local instance; disconnects from a cluster, which runs on


def check_resources(ray: ModuleType, workers: int, cpus: float, gpus: float) -> None:
    """Refuse a pool the cluster cannot place: Ray would wait for it forever."""
    total = ray.cluster_resources()
    for name, each in (("CPU", cpus), ("GPU", gpus)):
        need, have = workers * each, float(total.get(name, 0))
        if need > have:
            flag = "--threads" if name == "CPU" else "--gpus-per-worker"
            raise EdgeIRError(f"expected a cluster with {need:g} {name}s for {workers} worker(s) of {each:g} "
                              f"{name}(s) each, found {have:g}: lower --workers or {flag}")
