"""Restorer: frames of any dtype, layout and size in, the same out."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from edgeir import EdgeIRError, Restorer
from edgeir.runtimes import Runtime, RuntimeInfo, load
from edgeir.runtimes.frames import pad_to
from edgeir.shapes import InputShapes
from tests.conftest import random_model


class MixingRuntime(Runtime):
    """A runtime double for the Restorer's own work (formats, padding, batches, threads): a
    fixed function that mixes channels unequally and depends on position, so a swapped
    channel or a misplaced crop shows; no network runs. It checks its input as every backend
    does and records the shapes it was given."""

    def __init__(self):
        self.calls: list[tuple[int, ...]] = []
        self.info = RuntimeInfo("mixing double", "fp32", "cpu", (7, 9, 11))

    def _run(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(x.shape)
        ramp = np.linspace(0.0, 0.2, x.shape[3], dtype=np.float32)
        return 0.6 * x + 0.3 * x[:, [1, 2, 0]] + ramp - 0.05


@pytest.fixture(scope="module")
def runtime():
    """A real network, for what depends on one (tiles and their seams)."""
    return load(random_model("s"), device="cpu")


@pytest.fixture(scope="module")
def double():
    return MixingRuntime()


@pytest.fixture(scope="module")
def restorer(double):
    return Restorer(double)


def _frame(shape, dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == np.uint8:
        return rng.integers(0, 256, shape, dtype=np.uint8)
    if dtype == np.uint16:
        return rng.integers(0, 65536, shape, dtype=np.uint16)
    return rng.random(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(64, 80, 3), (64, 80), (64, 80, 1), (64, 80, 4)],
                         ids=["rgb", "gray", "gray1", "rgba"])
def test_dtype_and_layout_are_kept(restorer, shape, dtype):
    frame = _frame(shape, dtype)
    out = restorer.restore(frame)
    assert out.shape == frame.shape and out.dtype == frame.dtype
    if np.issubdtype(dtype, np.floating):
        assert out.min() >= 0 and out.max() <= 1
    if shape[-1:] == (4,):
        assert np.array_equal(out[..., 3], frame[..., 3])


def test_values_are_the_networks(restorer, double):
    """A legal float frame goes through untouched: the Restorer adds no numerics."""
    frame = _frame((256, 320, 3), np.float32)
    expected = np.clip(double(frame.transpose(2, 0, 1)[None].copy())[0], 0, 1).transpose(1, 2, 0)
    assert np.abs(restorer.restore(frame) - expected).max() < 1e-6


def test_padding_reflects_then_crops(restorer, double):
    frame = _frame((250, 300, 3), np.float32)
    padded = pad_to(frame.transpose(2, 0, 1), 256, 320)
    assert np.array_equal(padded[:, 250:, :300], frame.transpose(2, 0, 1)[:, 243:249][:, ::-1])
    expected = np.clip(double(padded[None].copy())[0], 0, 1)[:, :250, :300].transpose(1, 2, 0)
    assert np.abs(restorer.restore(frame) - expected).max() < 1e-6


def test_tiny_frame(restorer):
    frame = _frame((17, 23, 3))
    assert restorer.restore(frame).shape == (17, 23, 3)
    padded = pad_to(frame.transpose(2, 0, 1).astype(np.float32), 256, 256)
    assert np.array_equal(padded[:, 17:, :23], np.repeat(padded[:, 16:17, :23], 239, axis=1))


def test_bgr_is_rgb_reversed(double):
    frame = _frame((64, 64, 3))
    rgb = Restorer(double).restore(frame)
    bgr = Restorer(double, color="bgr").restore(frame[..., ::-1].copy())
    assert np.array_equal(bgr, rgb[..., ::-1])


def test_batch_and_threads_match_one_by_one(double):
    frames = [_frame((96, 128, 3), np.float32, seed=s) for s in range(4)]
    single = Restorer(double)
    expected = [single.restore(f) for f in frames]
    batched = Restorer(double, batch=3).restore_batch(frames)
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(single.restore, frames))
    for e, b, t in zip(expected, batched, threaded):
        assert np.abs(e - b).max() < 1e-5 and np.abs(e - t).max() < 1e-5


def _seam_ratio(image, positions):
    """Mean horizontal step across the given columns, relative to all columns."""
    steps = np.abs(np.diff(image, axis=1)).mean(axis=(0, 2))
    return steps[[p - 1 for p in positions]].mean() / steps.mean()


def _smooth_frame(h, w):
    """A smooth gradient with soft texture: a seam would stand out against it."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 0.5 + 0.3 * np.sin(xs / 37.0)[..., None] * np.cos(ys / 23.0)[..., None]
    return np.clip(base + np.array([0.0, 0.05, -0.05], np.float32), 0, 1).astype(np.float32)


def _tiled_vs_whole(runtime, frame, tile, overlap=32):
    whole = Restorer(runtime).restore(frame)
    tiled = Restorer(runtime, tile=tile, overlap=overlap, batch=2).restore(frame)
    psnr = 10 * np.log10(1.0 / np.mean((whole - tiled) ** 2))
    step = tile - overlap
    starts = list(range(0, frame.shape[1] - tile, step))[1:] + [frame.shape[1] - tile]
    edges = sorted({s for s in starts} | {s + overlap for s in starts})
    return psnr, _seam_ratio(whole, edges), _seam_ratio(tiled, edges)


def test_tiles_blend_without_seams(runtime, record_property):
    frame = _smooth_frame(480, 800)
    psnr, whole_ratio, tiled_ratio = _tiled_vs_whole(runtime, frame, tile=256)
    record_property("tiled_vs_whole_psnr_db", psnr)
    assert tiled_ratio < whole_ratio * 1.1
    assert psnr > 40


def test_seam_metric_sees_hard_tile_edges(runtime):
    """Without overlap, tiles meet edge to edge; the metric above must notice."""
    frame = _smooth_frame(256, 768)
    whole = Restorer(runtime).restore(frame)
    hard = Restorer(runtime, tile=256, overlap=0).restore(frame)
    assert _seam_ratio(hard, [256, 512]) > 1.1 * _seam_ratio(whole, [256, 512])


@pytest.mark.slow
def test_tiles_at_1080p(runtime, record_property):
    frame = _smooth_frame(1080, 1920)
    psnr, whole_ratio, tiled_ratio = _tiled_vs_whole(runtime, frame, tile=512)
    record_property("tiled_vs_whole_psnr_db_1080p", psnr)
    print(f"1080p tiled (512, overlap 32) vs whole: PSNR {psnr:.2f} dB")
    assert tiled_ratio < whole_ratio * 1.1
    # Tiles see different global means (the dynamic filters pool globally), so they can
    # never equal the whole frame; 38.3 dB was measured with these random weights.
    assert psnr > 35


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tile": 250}, "use 256x256"),
        ({"tile": 128}, "at least 256"),
        ({"tile": 256, "overlap": 256}, "overlap < tile"),
        ({"batch": 0}, "batch of at least 1"),
        ({"color": "yuv"}, None),
    ],
)
def test_bad_settings(double, kwargs, message):
    if message is None:
        with pytest.raises(EdgeIRError, match="'rgb' or 'bgr'"):
            Restorer(double, **kwargs).restore(_frame((8, 8, 3)))
        return
    with pytest.raises(EdgeIRError, match=message):
        Restorer(double, **kwargs)


@pytest.mark.parametrize("frame", [np.zeros((8, 8, 2), np.uint8), np.zeros((8, 8, 3), np.int32)])
def test_bad_frames(restorer, frame):
    with pytest.raises(EdgeIRError, match="expected"):
        restorer.restore(frame)


def test_static_model_needs_tiles_for_large_frames(exported_static):
    result = exported_static
    small = Restorer(result.artifact)
    assert small.restore(_frame((100, 200, 3))).shape == (100, 200, 3)
    with pytest.raises(EdgeIRError, match=r"restore it in tiles \(--tile 256, Restorer\(tile=256\)\)"):
        small.restore(_frame((300, 200, 3)))
    assert Restorer(result.artifact, tile=256).restore(_frame((300, 200, 3))).shape == (300, 200, 3)


class _RecordingEnumerated(Runtime):
    """A runtime double with Core ML's enumerated shapes: records what it is given and
    returns it (no network runs)."""

    def __init__(self):
        self.seen = []
        self.arrays = []
        self.info = RuntimeInfo("recording", "fp32", "cpu", (7, 9, 11),
                                shapes=InputShapes.enumerated("256x256,512x512", "motion-deblur"))

    def _run(self, x):
        self.seen.append(x.shape)
        self.arrays.append(x.copy())
        return x


def test_enumerated_model_gets_the_smallest_listed_size_that_fits():
    runtime = _RecordingEnumerated()
    restorer = Restorer(runtime)
    frame = _frame((300, 200, 3))
    assert np.array_equal(restorer.restore(frame), frame)
    restorer.restore(_frame((100, 100, 3)))
    assert runtime.seen == [(1, 3, 512, 512), (1, 3, 256, 256)]
    with pytest.raises(EdgeIRError, match="or another listed size"):
        restorer.restore(_frame((600, 600, 3)))
    Restorer(runtime, tile=256).restore(_frame((600, 600, 3)))
    assert set(runtime.seen[2:]) == {(1, 3, 256, 256)}


@pytest.mark.parametrize("tile, batch, shape", [(None, 1, (300, 200, 3)), (256, 1, (600, 600, 3)),
                                                (256, 2, (600, 600, 3))], ids=["whole", "tiles", "tile-batches"])
def test_network_inputs_are_what_the_runtime_is_given(tile, batch, shape):
    """The benchmark times these on the device: they must be the very arrays restore() runs."""
    runtime = _RecordingEnumerated()
    restorer = Restorer(runtime, tile=tile, batch=batch)
    frame = _frame(shape)
    inputs = restorer.network_inputs(frame)
    restorer.restore(frame)
    assert len(inputs) == len(runtime.arrays) >= 1
    assert all(np.array_equal(a, b) for a, b in zip(inputs, runtime.arrays))
    if tile is not None:
        assert sum(len(a) for a in inputs) > 1 and max(len(a) for a in inputs) == batch


def test_a_closed_restorer_and_runtime_refuse_calls_with_one_line(tmp_path):
    from tests.runtimes import ncnn_net

    pytest.importorskip("ncnn", reason="the ncnn extra is not installed")
    frame = np.zeros((128, 128, 3), np.uint8)
    with Restorer(load(ncnn_net.write(tmp_path), task="derain")) as restorer:
        assert restorer.restore(frame).shape == frame.shape
    for call in (lambda: restorer.restore(frame), lambda: restorer.restore_batch([frame]),
                 lambda: restorer.stream([frame]), lambda: restorer.network_inputs(frame)):
        with pytest.raises(EdgeIRError, match="this Restorer is closed"):
            call()
    restorer.close()  # twice: harmless
    assert restorer.runtime.closed
    with pytest.raises(EdgeIRError, match="expected an open runtime, found this ncnn runtime closed"):
        restorer.runtime(np.zeros((1, 3, 128, 128), np.float32))
