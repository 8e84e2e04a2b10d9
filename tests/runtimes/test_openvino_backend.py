"""The OpenVINO backend compiles a dynamic IR once per input shape it meets."""

import threading

import numpy as np
import pytest

from edgeir.errors import EdgeIRError
from edgeir.runtimes import load, openvino_backend


def _frame(shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def test_each_shape_runs_on_a_model_compiled_for_it(exported_openvino):
    runtime = load(exported_openvino.artifact)
    assert runtime.specialize and "CPU compiled per input shape" in runtime.info.providers
    small, tall = _frame((1, 3, 256, 256)), _frame((2, 3, 288, 256), seed=1)
    as_read = runtime.compiled.create_infer_request()
    for x in (small, tall):
        out = runtime(x)
        compiled = runtime.compiled_for(x.shape)
        assert compiled is not runtime.compiled
        assert list(compiled.inputs[0].get_partial_shape().to_shape()) == list(x.shape)
        expected = next(iter(as_read.infer(x).values()))
        np.testing.assert_allclose(out, expected, atol=1e-4)
    assert runtime.compiled_for(small.shape) is runtime.compiled_for(small.shape)
    runtime.close()
    for call in (lambda: runtime(small), lambda: runtime.compiled_for(small.shape)):
        with pytest.raises(EdgeIRError, match="found this openvino runtime closed"):
            call()


def test_the_least_recently_used_shape_goes_first(exported_openvino, monkeypatch):
    monkeypatch.setattr(openvino_backend, "SHAPES_KEPT", 2)
    runtime = load(exported_openvino.artifact)
    shapes = [(1, 3, 256, 256), (1, 3, 288, 256), (1, 3, 256, 288)]
    first = runtime.compiled_for(shapes[0])
    runtime.compiled_for(shapes[1])
    runtime.compiled_for(shapes[0])
    runtime.compiled_for(shapes[2])
    assert list(runtime._by_shape) == [shapes[0], shapes[2]]
    assert runtime.compiled_for(shapes[0]) is first


def test_a_shape_that_does_not_compile_falls_back_to_the_model_as_read(exported_openvino, monkeypatch):
    runtime = load(exported_openvino.artifact)

    def refuse(model):
        raise RuntimeError("cannot compile")

    monkeypatch.setattr(runtime, "_compile", refuse)
    x = _frame((1, 3, 256, 256))
    assert runtime.compiled_for(x.shape) is runtime.compiled
    assert runtime(x).shape == x.shape


def test_threads_share_a_compiled_shape_but_not_its_request(exported_openvino):
    runtime = load(exported_openvino.artifact)
    x = _frame((1, 3, 256, 256))
    expected = runtime(x)
    outputs, errors = [], []

    def work():
        try:
            outputs.append(runtime(x))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(outputs) == 3
    for out in outputs:
        np.testing.assert_array_equal(out, expected)
    assert len(runtime._by_shape) == 1


def test_a_static_ir_is_used_as_read(tmp_path, exported_openvino):
    ov = pytest.importorskip("openvino")
    model = ov.Core().read_model(str(exported_openvino.artifact))
    model.reshape([1, 3, 256, 256])
    static = tmp_path / "static.xml"
    ov.save_model(model, str(static))
    runtime = load(static)
    assert not runtime.specialize and "compiled per input shape" not in " ".join(runtime.info.providers)
    assert runtime.compiled_for((1, 3, 256, 256)) is runtime.compiled
