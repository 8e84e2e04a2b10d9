"""Two sides on the same frames: FP32 against INT8 ONNX, PyTorch against ONNX."""

from __future__ import annotations

import math

import pytest

from edgeir.compare import compare_layers
from edgeir.errors import EdgeIRError


@pytest.fixture(scope="module")
def exported_int8(random_checkpoint, tmp_path_factory):
    """The network of ``exported_s`` as Q/DQ INT8 ONNX, static 256x256 (the smallest legal
    size for motion-deblur), calibrated on 4 synthetic frames."""
    from edgeir.export import export

    output = tmp_path_factory.mktemp("int8") / "convir_s_int8.onnx"
    return export("onnx-int8", variant="s", weights=random_checkpoint, output=output, shape=(256, 256),
                  calib_frames=4)


@pytest.fixture(scope="module")
def fp32_vs_int8(exported_s, exported_int8):
    return compare_layers(exported_s.artifact, exported_int8.artifact, count=1, progress=False)


@pytest.mark.slow  # an INT8 export of its own (calibration): 40 s on 2 cores
def test_int8_keeps_every_convolution_name_of_the_fp32_graph(fp32_vs_int8):
    assert len(fp32_vs_int8.layers) == 144  # 142 Conv + 2 ConvTranspose in ConvIR-S
    assert fp32_vs_int8.unmatched_a == [] and fp32_vs_int8.unmatched_b == []
    assert fp32_vs_int8.frames == {"source": "synthetic calib split (1 frames)", "count": 1, "size": [256, 256],
                                   "batch": 1}


@pytest.mark.slow
def test_int8_error_is_finite_per_layer_with_a_jump_and_worst_layer(fp32_vs_int8):
    names = [layer.name for layer in fp32_vs_int8.layers]
    assert all(math.isfinite(layer.psnr_db) and layer.max_abs > 0 for layer in fp32_vs_int8.layers)
    assert fp32_vs_int8.jump is not None and fp32_vs_int8.jump.layer.name in names
    assert fp32_vs_int8.worst is not None and fp32_vs_int8.worst.name in names
    assert fp32_vs_int8.worst.psnr_db == min(layer.psnr_db for layer in fp32_vs_int8.layers)
    assert 20 < fp32_vs_int8.output.psnr_db < 100


def test_pytorch_matches_every_onnx_convolution_with_float_error(exported_s):
    """Functional convolutions (the rewrite's dynamic-filter taps) are keyed by their module
    as ONNX names them, so none is left out."""
    result = compare_layers("torch", exported_s.artifact, count=1, progress=False)
    assert len(result.layers) >= 140 and not result.unmatched_b
    assert result.layers[0].b.startswith("/")  # listed in the ONNX graph's order
    assert max(layer.max_abs for layer in result.layers) < 1e-3
    assert result.output.max_abs < 1e-4 and result.output.psnr_db > 80


@pytest.mark.slow
def test_a_static_artifact_sets_the_size(exported_s, exported_int8):
    with pytest.raises(EdgeIRError, match="expected --size 256x256"):
        compare_layers(exported_s.artifact, exported_int8.artifact, size=(512, 512), progress=False)


@pytest.mark.slow  # an OpenVINO export of its own: 40 s on 2 cores
def test_openvino_names_match_the_onnx_graph_transposed_convolutions_included(exported_s, exported_openvino):
    """OpenVINO splits a Conv into a convolution and a bias Add (which keeps the node's name)
    and renames transposed ones: every layer still matches, with float error only."""
    result = compare_layers(exported_s.artifact, exported_openvino.artifact, count=1, progress=False)
    assert len(result.layers) == 144 and not result.unmatched_a and not result.unmatched_b
    assert "INFERENCE_PRECISION_HINT=f32" in result.b
    assert max(layer.max_abs for layer in result.layers) < 1e-3 and result.output.max_abs < 1e-4


def test_frame_plan_takes_a_static_batch_and_refuses_two_static_shapes(exported_s):
    from dataclasses import replace

    from edgeir.compare.run import frame_plan
    from edgeir.manifest import Manifest, manifest_path

    dynamic = Manifest.read(manifest_path(exported_s.artifact))
    static = replace(dynamic, shapes={"mode": "static", "min": [288, 256], "opt": [288, 256], "max": [288, 256],
                                      "max_batch": 2})
    assert frame_plan({"A": dynamic}, None) == ((256, 256), 1)
    assert frame_plan({"A": dynamic}, (320, 288)) == ((320, 288), 1)
    assert frame_plan({"A": dynamic, "B": static}, None) == ((288, 256), 2)
    other = replace(static, shapes={**static.shapes, "max_batch": 1})
    with pytest.raises(EdgeIRError, match="one input shape"):
        frame_plan({"A": static, "B": other}, None)
    with pytest.raises(EdgeIRError, match="multiples of 32"):
        frame_plan({"A": dynamic}, (300, 256))
