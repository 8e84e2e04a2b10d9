"""``edgeir serve``: image bytes in and out (``decode_image`` / ``encode_image``), grouping
a batch by frame size, and one real Ray Serve application on loopback: concurrent
requests restored in shared batches, pixel for pixel what ``Restorer.restore`` gives, and
one-line 400 / 413 / 422 answers."""

from __future__ import annotations

import json
import socket
import sys
import threading
from email.message import Message

import numpy as np
import pytest

import edgeir.data.io as image_io
from edgeir.data.io import decode_image, encode_image
from edgeir.errors import EdgeIRError
from tests.serving import OPTIONS, request

RNG = np.random.default_rng(7)
# Ray Serve's own config models use a Pydantic feature Pydantic 2 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.serve._private.config")


# --- image bytes ---------------------------------------------------------------------


@pytest.fixture(params=["cv2", "PIL"])
def library(request, monkeypatch):
    """Both decoders: OpenCV where installed, Pillow on installs without it."""
    pytest.importorskip(request.param, reason=f"{request.param} is not installed")
    monkeypatch.setattr(image_io, "image_library", lambda: request.param)
    return request.param


@pytest.mark.parametrize(
    "frame",
    [
        RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8),
        RNG.integers(0, 256, (20, 30), dtype=np.uint8),
        RNG.integers(0, 256, (20, 30, 4), dtype=np.uint8),
        RNG.integers(0, 65536, (20, 30), dtype=np.uint16),
    ],
    ids=["rgb8", "gray8", "rgba8", "gray16"],
)
def test_png_bytes_round_trip(library, frame):
    data = encode_image(frame)
    assert data.startswith(b"\x89PNG")
    back = decode_image(data)
    assert back.dtype == frame.dtype and np.array_equal(back, frame)


def test_16bit_colour_png_keeps_depth_and_rgb_order():
    pytest.importorskip("cv2", reason="16-bit colour needs OpenCV")
    frame = RNG.integers(0, 65536, (12, 10, 3), dtype=np.uint16)
    frame[0, 0] = [65535, 0, 0]  # red stays red: no RGB/BGR swap on the way
    back = decode_image(encode_image(frame, ".png"))
    assert back.dtype == np.uint16 and np.array_equal(back, frame)


def test_jpeg_bytes_are_8bit_and_close(library):
    frame = np.full((32, 48, 3), (200, 40, 90), np.uint8)
    back = decode_image(encode_image(frame, "jpg"))
    assert back.shape == frame.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - frame).max() <= 6


def test_exif_orientation_is_applied():
    pil = pytest.importorskip("PIL.Image", reason="Pillow writes the EXIF test image")
    import io

    tall = np.zeros((40, 20, 3), np.uint8)
    exif = pil.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display upright
    out = io.BytesIO()
    pil.fromarray(tall).save(out, format="JPEG", exif=exif)
    assert decode_image(out.getvalue()).shape == (20, 40, 3)


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 40],
                         ids=["empty", "text", "truncated-png"])
def test_undecodable_bytes_are_one_line_errors(library, data):
    with pytest.raises(EdgeIRError, match="expected (an image|image bytes)") as caught:
        decode_image(data)
    assert "\n" not in str(caught.value)


def test_encode_refuses_what_it_cannot_write():
    with pytest.raises(EdgeIRError, match="expected an image format"):
        encode_image(np.zeros((4, 4, 3), np.uint8), ".gif")
    with pytest.raises(EdgeIRError, match="expected a uint8 or uint16 frame"):
        encode_image(np.zeros((4, 4, 3), np.float32))


# --- batching by size, without Ray ----------------------------------------------------


def test_restore_grouped_mixes_sizes_and_keeps_errors_to_their_frames(exported_s):
    from edgeir.distributed.serve import ServeOptions, make_restorer, restore_grouped

    restorer = make_restorer(exported_s.artifact, ServeOptions(max_batch=4))
    frames = [RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8),
              np.zeros((1200, 300, 3), np.uint8),  # beyond the exported 1088x1920 range, no tile
              RNG.integers(0, 256, (40, 90, 3), dtype=np.uint8),
              RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)]
    results = restore_grouped(restorer, frames)
    assert isinstance(results[1], EdgeIRError) and "expected frames up to" in str(results[1])
    for i in (0, 2, 3):
        assert np.array_equal(results[i], restorer.restore(frames[i]))
    restorer.close()


# --- CLI wiring -------------------------------------------------------------------------


def test_cli_passes_options_and_prints_endpoints(monkeypatch, capsys):
    import edgeir.distributed.serve as serving_module
    from edgeir.cli import main

    seen = {}

    def fake_serve_model(model, announce, **kwargs):
        seen.update(kwargs, model=model)
        announce(serving_module.Served("http://127.0.0.1:9123", model, {"backend": "onnxruntime",
                                       "precision": "fp32", "device": "cpu"}))

    monkeypatch.setattr(serving_module, "serve_model", fake_serve_model)
    assert main(["serve", "m.onnx", "--port", "9123", "--max-batch", "3", "--batch-wait-ms", "50",
                 "--max-body-mb", "2", "--tile", "256", "--color", "bgr", "--replicas", "2",
                 "--max-uploads", "5", "--read-idle-s", "1.5", "--read-timeout-s", "30"]) == 0
    options = seen["options"]
    assert (seen["port"], seen["replicas"], seen["host"], seen["ray_address"]) == (9123, 2, "127.0.0.1", None)
    assert (options.max_batch, options.batch_wait_s, options.max_body_mb, options.tile, options.color) == (
        3, 0.05, 2.0, 256, "bgr")
    assert (options.max_uploads, options.read_idle_s, options.read_timeout_s) == (5, 1.5, 30.0)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:9123" in out and "POST /restore" in out and "GET /healthz" in out


def test_cli_bad_model_fails_in_one_line_before_ray(tmp_path, capsys):
    from edgeir.cli import main

    assert main(["serve", str(tmp_path / "missing.onnx"), "--port", "9124"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("edgeir: error: expected a model file") and "\n" not in err


def test_missing_ray_says_what_to_install(monkeypatch):
    from edgeir.distributed.serve import import_serve

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(EdgeIRError, match=r'edgeir serve needs Ray, which this install lacks: pip install "edgeir\[ray\]"'):
        import_serve()


def test_busy_port_is_refused_before_ray_starts():
    from edgeir.distributed.serve import _check_port

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(EdgeIRError, match="expected a free port"):
            _check_port("127.0.0.1", busy.getsockname()[1])


# --- one Ray Serve application on loopback --------------------------------------------
# ``served`` (tests/conftest.py): ``edgeir serve`` of exported_s in a child process with
# its own local Ray, shared with tests/reliability/test_serve.py; its options are
# tests/serving.py's OPTIONS.

MAX_BODY_MB = OPTIONS["max_body_mb"]


def test_healthz_and_info(served):
    assert request(served.url + "/healthz")[::2] == (200, b"ok\n")
    status, headers, body = request(served.url + "/info")
    info = json.loads(body)
    assert status == 200 and headers["content-type"] == "application/json"
    assert info["restorer"]["backend"] == "onnxruntime" and info["restorer"]["batch"] == 4
    assert info["manifest"]["target"] == "onnx" and info["manifest"]["variant"] == "s"
    assert info["serving"]["max_batch"] == 4 and info["serving"]["max_body_mb"] == MAX_BODY_MB
    assert "POST /restore" in info["serving"]["endpoints"]


def test_concurrent_requests_share_batches_and_match_restorer(served, exported_s):
    from edgeir.runtimes.restorer import Restorer

    frames = ([RNG.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(3)]
              + [RNG.integers(0, 256, (120, 200, 3), dtype=np.uint8) for _ in range(2)]
              + [RNG.integers(0, 65536, (96, 96, 3), dtype=np.uint16)])
    bodies = [encode_image(f) for f in frames]  # here, not in the threads: see RestoreServer.__init__
    replies: list[tuple[int, Message, bytes] | None] = [None] * len(frames)
    start = threading.Barrier(len(frames))

    def send(i: int) -> None:
        start.wait()
        replies[i] = request(served.url + "/restore", bodies[i])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(frames))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    with Restorer(exported_s.artifact) as restorer:
        for frame, reply in zip(frames, replies):
            assert reply is not None and reply[0] == 200, reply
            assert reply[1]["content-type"] == "image/png"
            restored = decode_image(reply[2])
            assert restored.dtype == frame.dtype and restored.shape == frame.shape
            assert np.array_equal(restored, restorer.restore(frame))
    batches = [int(reply[1]["x-edgeir-batch"]) for reply in replies]
    # At most 3 frames share a size, so a batch of 4 mixed sizes in one serve.batch call.
    assert max(batches) == 4, batches
    stats = json.loads(request(served.url + "/info")[2])["stats"]
    assert stats["largest_batch"] == 4 and stats["frames"] >= len(frames)


def _assert_one_line(body: bytes) -> str:
    text = body.decode()
    assert text.endswith("\n") and text.count("\n") == 1 and "Traceback" not in text
    return text


@pytest.mark.parametrize("body", [b"this is not an image", b""], ids=["garbage", "empty"])
def test_bad_body_is_400_with_a_reason(served, body):
    status, _, reply = request(served.url + "/restore", body)
    assert status == 400
    assert _assert_one_line(reply).startswith(("expected an image", "expected image bytes"))


def test_body_over_the_limit_is_413(served):
    status, _, reply = request(served.url + "/restore", b"\0" * int(1.5 * MAX_BODY_MB * 2**20))
    assert status == 413 and "--max-body-mb" in _assert_one_line(reply)


def test_frame_the_model_cannot_take_is_422(served):
    body = encode_image(np.zeros((1200, 300, 3), np.uint8))  # beyond 1088x1920 and no --tile
    status, _, reply = request(served.url + "/restore", body)
    assert status == 422 and _assert_one_line(reply).startswith("expected frames up to 1088x1920")


def test_unknown_format_path_and_method(served):
    small = encode_image(np.zeros((8, 8, 3), np.uint8))
    assert request(served.url + "/restore?format=gif", small)[0] == 400
    status, _, reply = request(served.url + "/nowhere")
    assert status == 404 and "POST /restore" in _assert_one_line(reply)
    status, headers, _ = request(served.url + "/restore")
    assert status == 405 and headers["allow"] == "POST"
