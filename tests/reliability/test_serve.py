"""``edgeir serve`` against hostile clients: uploads that stall or trickle get 408 and free
their slot, uploads past the bound get 503 at once, a decompression bomb is refused from its
header with 413 while the replica's memory stays flat, and ``/healthz`` answers within a
second throughout. The server is ``served`` (tests/conftest.py): ``edgeir serve`` in a
child process, shared with tests/distributed/test_serve.py, with tests/serving.py's OPTIONS
(--read-idle-s 8, --read-timeout-s 12, --max-uploads 10, --max-body-mb 1)."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from edgeir import EdgeIRError
from edgeir.data.io import encode_image
from tests.serving import OPTIONS, descendants, listening, loopback, request

IDLE_S, DEADLINE_S, UPLOADS = OPTIONS["read_idle_s"], OPTIONS["read_timeout_s"], OPTIONS["max_uploads"]
SMALL = encode_image(np.full((64, 64, 3), 120, np.uint8))
STALLED = (b"POST /restore HTTP/1.1\r\nHost: edgeir\r\nContent-Type: image/png\r\n"
           b"Content-Length: 1000000\r\n\r\n" + b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
"""The issue's slow client: a megabyte declared, 40 bytes sent, then silence."""


def _one_line(body: bytes) -> str:
    text = body.decode()
    assert text.endswith("\n") and text.count("\n") == 1 and "Traceback" not in text, text
    return text.strip()


def _healthz_within_a_second(served) -> None:
    start = time.monotonic()
    status, _, body = request(served.url + "/healthz", timeout=5)
    assert (status, body) == (200, b"ok\n") and time.monotonic() - start < 1.0


def _uploads_now(served) -> int:
    return json.loads(request(served.url + "/info", timeout=5)[2])["stats"]["uploads_now"]


def _wait_for_uploads(served, count: int, before: float) -> None:
    """Until the replica holds ``count`` uploads, which must happen before ``before``."""
    while (now := _uploads_now(served)) != count:
        assert time.monotonic() < before, f"expected {count} uploads held, found {now}"
        time.sleep(0.05)


@contextlib.contextmanager
def _stalled_uploads(port: int, count: int):
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]
    try:
        for sock in sockets:
            sock.sendall(STALLED)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def _response(sock: socket.socket, timeout: float) -> tuple[int, bytes]:
    """(status, body) of the HTTP response on ``sock``, read until the server closes it."""
    sock.settimeout(timeout)
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


# --- without a server -------------------------------------------------------------------


@pytest.mark.clear_error
@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_a_port_out_of_range_is_one_line(capsys, exported_s, port):
    """Refused before the model loads and Ray starts (it was an OverflowError after both)."""
    from edgeir.cli import main

    assert main(["serve", str(exported_s.artifact), "--port", port]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"edgeir: error: expected a port from 1 to 65535 (edgeir serve --port), found {port}"


@pytest.mark.clear_error
@pytest.mark.parametrize("option", ["read_idle_s", "read_timeout_s", "max_uploads"])
def test_read_limits_must_be_positive(option):
    from edgeir.distributed.serve import ServeOptions

    with pytest.raises(EdgeIRError, match=rf"expected {option} >= 1|expected {option} > 0"):
        ServeOptions(**{option: 0})


# --- against edgeir serve ---------------------------------------------------------------


@pytest.mark.correct_result
def test_nine_stalled_uploads_stall_neither_healthz_nor_restore(served):
    start = time.monotonic()
    with _stalled_uploads(served.port, 9) as stalled:
        _wait_for_uploads(served, 9, before=start + IDLE_S - 0.5)
        for _ in range(3):
            _healthz_within_a_second(served)
        status, headers, body = request(served.url + "/restore", SMALL, timeout=60)
        assert status == 200 and headers["content-type"] == "image/png" and body.startswith(b"\x89PNG")
        for sock in stalled:  # each gets its 408 once it has been silent for --read-idle-s
            status, reason = _response(sock, timeout=IDLE_S + 15)
            assert status == 408 and _one_line(reason) == (
                f"expected the body within {DEADLINE_S:g} s with no pause over {IDLE_S:g} s (edgeir serve "
                f"--read-timeout-s, --read-idle-s), found 40 of 1000000 bytes and then {IDLE_S:g} s of silence")
    _healthz_within_a_second(served)
    assert _uploads_now(served) == 0


@pytest.mark.clear_error
def test_uploads_past_the_bound_get_503_at_once_and_a_client_gone_frees_its_slot(served):
    start = time.monotonic()
    with _stalled_uploads(served.port, UPLOADS):
        _wait_for_uploads(served, UPLOADS, before=start + IDLE_S - 0.5)
        status, headers, body = request(served.url + "/restore", SMALL, timeout=5)
        assert status == 503 and headers["retry-after"] == "1"
        assert _one_line(body) == (f"expected at most {UPLOADS} uploads at once (edgeir serve --max-uploads), "
                                   "found as many in progress: try again shortly")
        _healthz_within_a_second(served)
    # The clients are gone: their slots are free before any read limit would have freed them.
    _wait_for_uploads(served, 0, before=start + IDLE_S)
    assert request(served.url + "/restore", SMALL, timeout=60)[0] == 200


@pytest.mark.clear_error
def test_a_trickling_upload_meets_the_deadline(served):
    """A byte a second never pauses long enough for --read-idle-s; --read-timeout-s ends it."""
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as sock:
        sock.sendall(STALLED)
        sock.settimeout(1.0)
        start = time.monotonic()
        while time.monotonic() - start < DEADLINE_S + 15:
            try:
                sock.recv(1, socket.MSG_PEEK)  # an answer (or the end): the server is done waiting
                break
            except TimeoutError:
                with contextlib.suppress(OSError):
                    sock.sendall(b"\0")
        status, reason = _response(sock, timeout=5)
    assert status == 408 and _one_line(reason).startswith(
        f"expected the body within {DEADLINE_S:g} s with no pause over {IDLE_S:g} s (edgeir serve ")
    assert reason.decode().strip().endswith("of 1000000 bytes and then the deadline")


@pytest.mark.clear_error
def test_a_decompression_bomb_is_refused_from_its_header_and_memory_stays_flat(served, record_property):
    from .hostile import png_bomb

    bomb = png_bomb(20000, 20000)  # 8-bit gray: 0.4 MB, under --max-body-mb 1; 400 MB decoded
    before = served.peak_mb()
    done, slow = threading.Event(), []

    def poll_healthz() -> None:
        end = time.monotonic() + 1.0
        while not done.is_set() or time.monotonic() < end:
            start = time.monotonic()
            try:
                status = request(served.url + "/healthz", timeout=5)[0]
            except OSError as exc:  # no answer in 5 s, or none at all
                status = type(exc).__name__
            elapsed = time.monotonic() - start
            if status != 200 or elapsed >= 1.0:
                slow.append((status, round(elapsed, 2)))
            time.sleep(0.1)

    poller = threading.Thread(target=poll_healthz)
    poller.start()
    try:
        status, _, body = request(served.url + "/restore", bomb, timeout=120)
    finally:
        done.set()
        poller.join()
    assert status == 413 and _one_line(body) == (
        "expected an image of at most 67108864 pixels (EDGEIR_MAX_IMAGE_PIXELS raises the limit), found "
        "20000x20000 in the request body")
    assert slow == [], f"/healthz answered late or not at all while the bomb was refused: {slow}"
    after = served.peak_mb()
    record_property("serve_peak_memory_mb", after)
    print(f"\nedgeir serve peak memory (VmHWM, MB): replica {after.get('replica', 0):.0f} (before the bomb "
          f"{before.get('replica', 0):.0f}), proxy {after.get('proxy', 0):.0f}, whole process tree "
          f"{after['tree']:.0f}")
    if sys.platform.startswith("linux"):  # /proc is there: the replica is found, and the bomb was never decoded
        assert "replica" in before and after["replica"] - before["replica"] < 256


@pytest.mark.clear_error
@pytest.mark.parametrize(("frame", "name", "needs"), [
    (np.zeros((32, 32, 4), np.uint8), "jpg", "alpha plane (png, tif, tiff, webp)"),
    (np.zeros((32, 32, 4), np.uint8), "bmp", "alpha plane (png, tif, tiff, webp)"),
    (np.zeros((32, 32), np.uint16), "webp", "16-bit depth (png, tif, tiff)"),
    (np.zeros((32, 32, 3), np.uint16), "jpg", "16-bit depth (png, tif, tiff)"),
], ids=["rgba-jpg", "rgba-bmp", "gray16-webp", "rgb16-jpg"])
def test_a_format_that_would_drop_alpha_or_depth_is_422_before_restoring(served, frame, name, needs):
    restored_before = json.loads(request(served.url + "/info")[2])["stats"]["requests"]
    status, _, body = request(f"{served.url}/restore?format={name}", encode_image(frame), timeout=30)
    assert status == 422 and _one_line(body) == (
        f"expected a format that keeps the image's {needs}, found {name}, which drops it: ask for ?format=png")
    assert json.loads(request(served.url + "/info")[2])["stats"]["requests"] == restored_before


@pytest.mark.correct_result
def test_info_names_the_model_file_not_where_it_lies(served, exported_s):
    text = request(served.url + "/info")[2].decode()
    info = json.loads(text)
    assert info["model"] == exported_s.artifact.name

    def strings(value):
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return [value] if isinstance(value, str) else []

    assert [s for s in strings(info) if s.startswith("/")] == []
    assert str(exported_s.artifact.parent) not in text and str(Path.home()) + "/" not in text


@pytest.mark.correct_result
def test_info_cuts_every_absolute_path_in_a_manifest_to_its_name():
    """A manifest carries paths of the machine that exported (the weights, an INT8 export's
    calibration folder inside a sentence); /info gives clients their names only."""
    from edgeir.distributed.serve import without_local_paths

    manifest = {"weights": {"path": "/home/alice/ckpt/convir_s.pkl"},
                "details": {"calibration": {"source": "images /home/alice/calib (32 frames)"}},
                "notes": ["C:\\Users\\bob\\calib", "outputs at 1/4 and 1/2 scale", "see https://github.com/c-yn/ConvIR"]}
    assert without_local_paths(manifest) == {
        "weights": {"path": "convir_s.pkl"}, "details": {"calibration": {"source": "images calib (32 frames)"}},
        "notes": ["calib", "outputs at 1/4 and 1/2 scale", "see https://github.com/c-yn/ConvIR"]}


@pytest.mark.correct_result
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="lists sockets by process (psutil, /proc)")
def test_only_the_http_port_and_one_replica_port_listen_beyond_loopback(served):
    """Ray's internal services (GCS, raylet, object manager, agents, the controller and the
    proxy's internals) listen on loopback like the HTTP port (--host 127.0.0.1). Left open:
    each Serve replica's internal gRPC server, which Ray 2.60 binds to every interface with no
    option (docs/benchmarks.md, issue 36)."""
    psutil = pytest.importorskip("psutil", reason="psutil lists the listening sockets")

    tree = {served.process.pid, *descendants(served.process.pid)}
    ports = listening(tree)
    assert ("127.0.0.1", served.port) in ports
    beyond = {(ip, port) for ip, port in ports if not loopback(ip)}
    replica = served.pids().get("replica")
    replica_ports = {(c.laddr.ip, c.laddr.port) for c in psutil.Process(replica).net_connections(kind="tcp")
                     if c.status == psutil.CONN_LISTEN} if replica else set()
    assert len(beyond) <= 1 and beyond <= replica_ports, f"listening beyond loopback: {sorted(beyond)}"
