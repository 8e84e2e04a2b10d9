"""The ncnn backend on a hand-written graph: what it computes, batches, and the errors it
gives for a wrong device, missing or foreign weights and unknown options."""

import numpy as np
import pytest

from edgeir import EdgeIRError
from edgeir.runtimes import load
from edgeir.runtimes.ncnn_backend import NcnnRuntime, open_net
from tests.runtimes import ncnn_net

pytest.importorskip("ncnn", reason="the ncnn extra is not installed")


@pytest.fixture
def tiny(tmp_path):
    return ncnn_net.write(tmp_path)


def test_runs_what_the_graph_computes_image_by_image(tiny):
    runtime = load(tiny, task="derain")
    assert runtime.info.backend == "ncnn" and runtime.info.precision == "fp32"
    x = np.random.default_rng(0).random((2, 3, 128, 160), dtype=np.float32)
    out = runtime(x)
    assert out.shape == (2, 3, 128, 160)
    np.testing.assert_allclose(out, ncnn_net.reference(x), atol=1e-4)
    assert not np.allclose(out[0], out[1])


def test_size_rule_is_checked_before_ncnn_runs(tiny):
    with pytest.raises(EdgeIRError, match="multiples of 32"):
        load(tiny, task="derain")(np.zeros((1, 3, 100, 128), np.float32))


def test_threads_are_passed_to_ncnn(tiny):
    runtime = load(tiny, task="derain", threads=1)
    assert runtime.net.opt.num_threads == 1 and "num_threads=1" in runtime.info.providers


def test_refuses_a_gpu_device(tiny):
    with pytest.raises(EdgeIRError, match="expected device cpu for an ncnn model"):
        NcnnRuntime(tiny, None, device="cuda")


def test_refuses_missing_or_foreign_weights(tiny):
    bin_path = tiny.with_suffix(".bin")
    bin_path.write_bytes(bin_path.read_bytes()[:100])
    with pytest.raises(EdgeIRError, match="expected the ncnn weights of tiny.param"):
        load(tiny, task="derain")
    bin_path.unlink()
    with pytest.raises(EdgeIRError, match="expected the ncnn weights of tiny.param"):
        load(tiny, task="derain")


def test_refuses_a_file_that_is_not_a_graph(tmp_path):
    bad = tmp_path / "bad.param"
    bad.write_text("not a graph\n")
    bad.with_suffix(".bin").write_bytes(b"")
    with pytest.raises(EdgeIRError, match="expected an ncnn .param graph"):
        load(bad, task="derain")


def test_unknown_options_are_refused(tiny):
    with pytest.raises(EdgeIRError, match="expected ncnn options among"):
        open_net(tiny, tiny.with_suffix(".bin"), {"use_magic": True})
