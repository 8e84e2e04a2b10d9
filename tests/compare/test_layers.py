"""Layer keys and matching: the exporter's scopes, OpenVINO's names and module paths agree."""

from __future__ import annotations

from edgeir.compare.layers import Layer, match, node_key, scope_key


def test_onnx_scope_and_module_path_give_one_key():
    onnx = node_key("/Encoder.0/layers/layers.0/main/main.0/Conv")
    assert onnx == ("Encoder", "0", "layers", "0", "main", "0")
    assert onnx == scope_key("Encoder.0.layers.0.main.0")
    assert Layer("/Encoder.0/layers/layers.0/main/main.0/Conv", onnx).label == "Encoder.0.layers.0.main.0"


def test_openvino_names_and_transposed_convolutions_share_the_rule():
    assert node_key("/feat_extract.0/main/main.0/Conv/WithoutBiases") == node_key("/feat_extract.0/main/main.0/Conv")
    assert node_key("/feat_extract.3/main/main.0/ConvTranspose") == scope_key("feat_extract.3.main.0")


def test_a_second_convolution_of_one_module_keeps_its_own_name():
    """A module that runs two convolutions (a functional one, as the rewrite's dynamic
    filters do) gives ``Conv`` and ``Conv_1`` in ONNX; PyTorch counts its calls alike."""
    scope = "Encoder.0.layers.3.main.1.dynas.0.square_att"
    assert node_key(f"/{scope.replace('.', '/')}/Conv_1") == scope_key(scope, 1) != scope_key(scope)


def test_match_keeps_the_leading_side_order_and_counts_the_rest():
    a = [Layer(n, (n,)) for n in ("x", "y", "z", "only_a")]
    b = [Layer(n, (n,)) for n in ("z", "only_b", "y", "x")]
    by_a, by_b = match(a, b, order_by="a"), match(a, b, order_by="b")
    assert [p[0].name for p in by_a.pairs] == ["x", "y", "z"]
    assert [p[1].name for p in by_b.pairs] == ["z", "y", "x"]
    assert [x.name for x in by_a.only_a] == ["only_a"] and [x.name for x in by_a.only_b] == ["only_b"]


def test_a_key_twice_on_one_side_is_ambiguous_and_left_unmatched():
    a = [Layer("first", ("k",)), Layer("second", ("k",)), Layer("other", ("o",))]
    b = [Layer("k", ("k",)), Layer("o", ("o",))]
    found = match(a, b)
    assert [p[0].name for p in found.pairs] == ["other"]
    assert len(found.only_a) == 2 and [x.name for x in found.only_b] == ["k"]
