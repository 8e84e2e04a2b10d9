"""``Restorer.stream``: the outputs of ``restore`` frame by frame, in order, through a
pipeline of threads that always stops (at an error, at an early close, at the end)."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest

from edgeir import EdgeIRError, Restorer
from edgeir.runtimes import Runtime, load
from tests.runtimes import tiny_conv

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")


class Recording(Runtime):
    """A real runtime behind a double that records the batch shapes it is called with and
    fails on the calls listed in ``fail_on`` (counted from 0)."""

    def __init__(self, inner: Runtime, fail_on: tuple[int, ...] = ()) -> None:
        self.inner, self.fail_on = inner, fail_on
        self.info = inner.info
        self.calls: list[tuple[int, ...]] = []

    def _run(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(x.shape)
        if len(self.calls) - 1 in self.fail_on:
            raise EdgeIRError("expected a working runtime, found it failing")
        return self.inner._run(x)


@pytest.fixture(scope="module", params=["onnxruntime", "openvino"])
def tiny(request, tmp_path_factory):
    """The tiny restorer in ONNX Runtime, and in OpenVINO (its inference thread gets an infer
    request of its own)."""
    path = tiny_conv.residual(tmp_path_factory.mktemp("model") / "tiny.onnx")
    if request.param == "openvino":
        ov = pytest.importorskip("openvino", reason="the openvino extra is not installed")
        ov.save_model(ov.convert_model(str(path)), str(path.with_suffix(".xml")))
        path = path.with_suffix(".xml")
    return load(path, device="cpu")


@pytest.fixture(autouse=True)
def no_thread_survives():
    before = threading.active_count()
    yield
    assert threading.active_count() == before


def _frames(shapes, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.uint8:
        return [rng.integers(0, 256, s, dtype=np.uint8) for s in shapes]
    return [rng.random(s).astype(dtype) for s in shapes]


def _assert_same(restorer, frames, **options):
    expected = [restorer.restore(f) for f in frames]
    streamed = list(restorer.stream(iter(frames), **options))
    assert len(streamed) == len(expected)
    for e, s in zip(expected, streamed):
        assert s.dtype == e.dtype and s.shape == e.shape and np.array_equal(s, e)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_same_as_restore_frame_by_frame(tiny, dtype):
    _assert_same(Restorer(tiny), _frames([(40, 56, 3)] * 5, dtype))


def test_tiled_frames_with_overlap(tiny):
    frames = _frames([(300, 420, 3), (40, 56, 3), (290, 300, 3)])
    _assert_same(Restorer(tiny, tile=256, overlap=32, batch=2), frames)


def test_sizes_may_change_mid_stream(tiny):
    shapes = [(40, 56, 3), (40, 56, 3), (300, 260, 3), (40, 56), (64, 64, 4), (64, 64, 4), (40, 56, 3)]
    _assert_same(Restorer(tiny, tile=256, batch=2), _frames(shapes))


def test_batch_two_groups_consecutive_frames_of_one_size(tiny):
    runtime = Recording(tiny)
    restorer = Restorer(runtime, batch=2)
    frames = _frames([(40, 56, 3)] * 5 + [(48, 48, 3)] * 2)
    streamed = list(restorer.stream(frames))
    assert [shape[0] for shape in runtime.calls] == [2, 2, 1, 2]
    assert all(np.array_equal(s, restorer.restore(f)) for s, f in zip(streamed, frames))
    runtime.calls.clear()
    list(restorer.stream(frames, group=False))
    assert [shape[0] for shape in runtime.calls] == [1] * 7


@pytest.mark.parametrize("depth", [1, 4])
def test_order_is_kept(tiny, depth):
    frames = [np.full((32, 32, 3), 8 * i, np.uint8) for i in range(12)]
    streamed = list(Restorer(tiny).stream(frames, depth=depth))
    assert [int(s.mean()) for s in streamed] == sorted(int(s.mean()) for s in streamed)
    _assert_same(Restorer(tiny), frames, depth=depth)


def test_empty_input_yields_nothing(tiny):
    assert list(Restorer(tiny).stream([])) == []


def test_a_bad_frame_is_raised_at_its_place(tiny):
    frames = _frames([(40, 56, 3)] * 4)
    frames[2] = frames[2].astype(np.int32)
    got = []
    with pytest.raises(EdgeIRError, match="uint8, uint16 or float"):
        for restored in Restorer(tiny, batch=2).stream(frames):
            got.append(restored)
    assert len(got) == 2


def test_a_failing_runtime_is_raised_at_its_frame(tiny):
    runtime = Recording(tiny, fail_on=(2,))
    got = []
    with pytest.raises(EdgeIRError, match="found it failing"):
        for restored in Restorer(runtime).stream(_frames([(40, 56, 3)] * 6)):
            got.append(restored)
    assert len(got) == 2


def test_an_error_of_the_input_iterator_is_raised_at_its_place(tiny):
    def frames():
        yield from _frames([(40, 56, 3)] * 3)
        raise KeyboardInterrupt  # a Ctrl-C while reading: it reaches the caller as itself

    got = []
    with pytest.raises(KeyboardInterrupt):
        for restored in Restorer(tiny, batch=2).stream(frames()):
            got.append(restored)
    assert len(got) == 3


def test_closing_early_stops_the_threads(tiny):
    frame = _frames([(40, 56, 3)])[0]
    stream = Restorer(tiny).stream(itertools.repeat(frame))  # endless, like a camera
    assert np.array_equal(next(stream), Restorer(tiny).restore(frame))
    stream.close()
    for restored in Restorer(tiny).stream(itertools.repeat(frame)):
        break


def test_an_error_in_the_callers_loop_stops_the_threads(tiny):
    frame = _frames([(40, 56, 3)])[0]
    with pytest.raises(ZeroDivisionError):
        stream = Restorer(tiny).stream(itertools.repeat(frame))
        try:
            for i, _ in enumerate(stream):
                if i == 3:
                    raise ZeroDivisionError
        finally:
            stream.close()


def test_bad_depth(tiny):
    with pytest.raises(EdgeIRError, match="depth of at least 1"):
        Restorer(tiny).stream([], depth=0)


def test_ctrl_c_in_the_caller_stops_the_threads(tiny):
    """KeyboardInterrupt reaches the caller's thread while it waits for a frame."""
    import _thread
    import time

    class Slow(Recording):
        def _run(self, x):
            time.sleep(0.01)
            return super()._run(x)

    import signal

    frame = _frames([(40, 56, 3)])[0]
    timer = threading.Timer(0.2, _thread.interrupt_main)
    # interrupt_main calls the SIGINT handler: Python's own, whatever an earlier test (Ray)
    # left installed; and the frames end, so that a lost interrupt fails instead of hanging.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            timer.start()
            for _ in Restorer(Slow(tiny)).stream(itertools.repeat(frame, 1000)):
                pass
    finally:
        signal.signal(signal.SIGINT, previous)
        timer.join()


def test_the_next_frame_is_read_while_the_network_runs(tiny):
    """The network's first call waits until the second frame has been read: without a
    pipeline it would wait in vain (and fail after five seconds)."""
    frame = _frames([(40, 56, 3)])[0]
    second_read = threading.Event()

    def frames():
        yield frame
        second_read.set()
        yield frame

    class Waiting(Recording):
        def _run(self, x):
            if not self.calls and not second_read.wait(5):
                raise AssertionError("the second frame was not read while the first one ran")
            return super()._run(x)

    assert len(list(Restorer(Waiting(tiny)).stream(frames()))) == 2
