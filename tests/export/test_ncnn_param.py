"""The .param reader/writer: a round trip keeps the graph, feature masks keep layers FP32."""

import pytest

from edgeir import EdgeIRError
from edgeir.export.fp16_range import ranges_of
from edgeir.export.ncnn_param import NO_REDUCED_PRECISION, ParamGraph
from tests.runtimes.ncnn_net import PARAM


def test_round_trip_keeps_layers_blobs_and_params():
    graph = ParamGraph.parse(PARAM)
    assert [layer.type for layer in graph.layers] == ["Input", "Convolution", "ReLU", "Convolution"]
    conv = graph.layers[1]
    assert conv.bottoms == ["in0"] and conv.tops == ["c0"] and conv.int("0") == 8 and conv.int("6") == 216
    assert ParamGraph.parse(graph.text()) == graph
    assert graph.nodes()[3] == ("conv_1", ["r0"], ["out0"])


def test_layers_over_the_fp16_range_get_a_feature_mask():
    graph = ParamGraph.parse(PARAM)
    ranges = ranges_of({"in0": 1.0, "c0": 40000.0, "r0": 40000.0, "out0": 3.0}, graph.nodes())
    assert ranges.kept_nodes == ["conv_0", "relu_0", "conv_1"] and ranges.makers == ["conv_0", "relu_0"]
    graph.keep_fp32(ranges.kept_nodes)
    masked = ParamGraph.parse(graph.text())
    assert [layer.params.get("31") for layer in masked.layers] == [None] + [str(NO_REDUCED_PRECISION)] * 3


@pytest.mark.parametrize("text, found", [("", "an empty file"), ("123\n1 1\n", "'123'"),
                                         ("7767517\n2 2\nInput in0 0 1 in0\n", "found 1")])
def test_refuses_what_is_not_an_ncnn_graph(text, found):
    with pytest.raises(EdgeIRError, match=found):
        ParamGraph.parse(text)
