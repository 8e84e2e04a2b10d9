"""``edgeir serve`` in a child process, for the serve tests (the ``served`` fixture in
tests/conftest.py): the real command line with its own local Ray, so nothing of Ray lives
in pytest's process (the other Ray tests keep theirs), stopped with SIGTERM as a service
manager stops it. Its processes' peak memory is read from /proc (VmHWM)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

OPTIONS = {"max_batch": 4, "batch_wait_ms": 1000, "max_body_mb": 1.0, "max_uploads": 10, "read_idle_s": 8.0,
           "read_timeout_s": 12.0}
"""A long batch wait makes concurrent requests share a batch on a slow machine; short read
limits keep the slow-client cases to seconds, with room to open ten connections on two busy
cores before the first limit passes."""
ROLES = {"replica": "ServeReplica:edgeir", "proxy": "ProxyActor"}
"""Ray's process titles of the serve processes whose memory the tests read."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(url: str, body: bytes | None = None, timeout: float = 180) -> tuple[int, Message, bytes]:
    """(status, headers (case-insensitive), body), for error statuses too."""
    req = urllib.request.Request(url, data=body, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@dataclass
class ServeProcess:
    url: str
    port: int
    process: subprocess.Popen
    log: Path

    def pids(self) -> dict[str, int]:
        """The pid of each of :data:`ROLES` among the serve command's processes."""
        found = {}
        for pid in descendants(self.process.pid):
            with contextlib.suppress(OSError):
                title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                found.update({role: pid for role, mark in ROLES.items() if mark in title})
        return found

    def peak_mb(self) -> dict[str, float]:
        """VmHWM (peak resident memory) in MB of the replica, the proxy, and the sum over the
        serve command's whole process tree (Ray's own processes included)."""
        peaks = {role: vm_hwm_mb(pid) for role, pid in self.pids().items()}
        peaks["tree"] = sum(map(vm_hwm_mb, [self.process.pid, *descendants(self.process.pid)]))
        return peaks


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc (Linux; none elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def vm_hwm_mb(pid: int) -> float:
    """Peak resident memory of ``pid`` in MB (0 where it is gone or /proc is absent)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        with contextlib.suppress(OSError):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if state != "Z":
                alive.append(pid)
    return alive


@contextlib.contextmanager
def serve_in_child(model: Path, workdir: Path, **options: object) -> Iterator[ServeProcess]:
    """``edgeir serve MODEL`` with :data:`OPTIONS` (and ``options``) on a free loopback port,
    until it answers ``/healthz``; at the end SIGTERM, and the command must exit 0 having
    stopped its Ray (no process of its tree left)."""
    port = free_port()
    args = [f"--{name.replace('_', '-')}={value}" for name, value in {**OPTIONS, **options}.items()]
    log = workdir / "serve.log"
    command = [sys.executable, "-c", "import sys; from edgeir.cli import main; sys.exit(main(sys.argv[1:]))",
               "serve", str(model), "--host", "127.0.0.1", f"--port={port}", "--num-cpus=2", *args]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=workdir,
                                   start_new_session=True)
    server = ServeProcess(f"http://127.0.0.1:{port}", port, process, log)
    try:
        _wait_until_healthy(server, deadline=time.monotonic() + 300)
        yield server
    finally:
        tree = descendants(process.pid)
        process.send_signal(signal.SIGTERM)
        try:
            rc = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            rc = process.wait()
        deadline = time.monotonic() + 30
        while _alive(tree) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = _alive(tree)
        for pid in left:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    text = log.read_text(errors="replace")
    assert rc == 0 and "edgeir serve: stopped" in text, f"edgeir serve exited {rc}:\n{text[-3000:]}"
    assert not left, f"edgeir serve left processes {left} running after SIGTERM"


def _wait_until_healthy(server: ServeProcess, deadline: float) -> None:
    """Until ``/healthz`` answers and the command has said it serves: Ray answers a moment
    before ``edgeir serve`` is past its start, and a SIGTERM in between is an interrupted
    start (exit 130), not a stop."""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"edgeir serve exited {server.process.returncode}:\n"
                                 f"{server.log.read_text(errors='replace')[-3000:]}")
        with contextlib.suppress(OSError):
            if (request(server.url + "/healthz", timeout=5)[0] == 200
                    and "Ctrl-C to stop." in server.log.read_text(errors="replace")):
                return
        time.sleep(0.5)
    raise AssertionError(f"edgeir serve did not answer /healthz in time:\n{server.log.read_text()[-3000:]}")


def listening(pids: set[int]) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket these processes listen on."""
    import psutil

    return {(c.laddr.ip, c.laddr.port) for c in psutil.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.pid in pids}


def loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip.split("%")[0])
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return (mapped or address).is_loopback
