"""ncnn INT8 scales written as ncnn2int8 writes them: ncnn loads them, runs INT8 close to
FP32, and a .bin that does not fit the graph is refused."""

import struct

import numpy as np
import pytest

from edgeir import EdgeIRError
from edgeir.calib.ncnn_int8 import INT8_TAG, activation_ranges, quantize
from edgeir.export.ncnn_param import ParamGraph
from edgeir.export.parity import compare
from edgeir.runtimes.ncnn_backend import extract, open_net, run_net
from tests.runtimes import ncnn_net

pytest.importorskip("ncnn", reason="the ncnn extra is not installed")


def _frames(count, seed):
    return list(np.random.default_rng(seed).random((count, 3, 64, 96), dtype=np.float32))


def test_quantized_graph_runs_in_int8_close_to_fp32(tmp_path):
    param = ncnn_net.write(tmp_path)
    graph, weights = ParamGraph.parse(param.read_text()), param.with_suffix(".bin").read_bytes()
    fp32 = open_net(param, param.with_suffix(".bin"), {})
    convolutions = graph.of_type("Convolution")
    ranges = activation_ranges(lambda image, blobs: extract(fp32, image, blobs), convolutions, _frames(4, 0))
    assert ranges["conv_0"] == pytest.approx(max(float(f.max()) for f in _frames(4, 0)))
    quantized, int8_weights = quantize(ParamGraph.parse(graph.text()), weights, ranges)
    assert [layer.params.get("8") for layer in quantized.of_type("Convolution")] == ["2", "2"]
    # int8 weights (a quarter of 2 x 216 floats), per-channel scales and one input scale per conv
    assert len(int8_weights) == len(weights) - 2 * 3 * 216 + 4 * (8 + 1 + 3 + 1)
    tag, stored = struct.unpack_from("<I", int8_weights)[0], np.frombuffer(int8_weights, np.int8, 216, 4)
    scales = np.frombuffer(int8_weights, np.float32, 8, 4 + 216 + 4 * 8)
    assert tag == INT8_TAG
    w0 = ncnn_net.weights()[0][0].reshape(8, -1)
    assert np.abs(stored.reshape(8, -1) / scales[:, None] - w0).max() <= 0.5 / scales.min() + 1e-7
    out_param = tmp_path / "int8.param"
    out_param.write_text(quantized.text())
    out_param.with_suffix(".bin").write_bytes(int8_weights)
    int8 = open_net(out_param, out_param.with_suffix(".bin"), {"use_int8_inference": True})
    x = np.stack(_frames(2, 1))
    exact, approx = run_net(fp32, x), run_net(int8, x)
    assert 30 < compare(exact, approx)["psnr_db"] < 90  # INT8 ran: close, not identical


def test_a_convolution_without_range_stays_fp32():
    graph = ParamGraph.parse(ncnn_net.PARAM)
    weights = b"".join(struct.pack("<I", 0) + w.tobytes() + b.tobytes() for w, b in ncnn_net.weights())
    quantized, data = quantize(graph, weights, {"conv_0": 1.0, "conv_1": 0.0})
    assert [layer.params.get("8") for layer in quantized.of_type("Convolution")] == ["2", None]
    assert len(data) == len(weights) - 3 * 216 + 4 * (8 + 1)


def test_weights_that_do_not_fit_the_graph_are_refused():
    weights = b"".join(struct.pack("<I", 0) + w.tobytes() + b.tobytes() for w, b in ncnn_net.weights())
    with pytest.raises(EdgeIRError, match="4 bytes more"):
        quantize(ParamGraph.parse(ncnn_net.PARAM), weights + b"\0" * 4, {})
    with pytest.raises(EdgeIRError, match="expected 216 more weights"):
        quantize(ParamGraph.parse(ncnn_net.PARAM), weights[:1000], {})
    fp16_tagged = struct.pack("<I", 0x01306B47) + weights[4:]
    with pytest.raises(EdgeIRError, match="expected FP32 weights in conv_0"):
        quantize(ParamGraph.parse(ncnn_net.PARAM), fp16_tagged, {})


def test_unknown_layers_are_refused():
    text = ncnn_net.PARAM.replace("ReLU                     relu_0", "LSTM                     lstm_0")
    weights = b"".join(struct.pack("<I", 0) + w.tobytes() + b.tobytes() for w, b in ncnn_net.weights())
    with pytest.raises(EdgeIRError, match="found LSTM"):
        quantize(ParamGraph.parse(text), weights, {})
