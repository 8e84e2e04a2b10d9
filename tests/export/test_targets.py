import importlib.util

import pytest

from edgeir import EdgeIRError
from edgeir.export import TARGETS, export
from edgeir.export.targets import OPTIONS, check_available, check_options, get_target


def test_rows_are_complete():
    for target in TARGETS.values():
        assert target.suffix.startswith(".")
        assert target.precision in {"fp32", "fp16", "int8"}
        assert target.extra and target.requires and target.gates
        assert importlib.util.find_spec(target.module) is not None
        assert set(target.options) <= set(OPTIONS)


def test_unknown_target():
    with pytest.raises(EdgeIRError, match="unknown target 'tflite'"):
        get_target("tflite")


def test_missing_extra_names_the_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnxslim" else real(name, *a)
    )
    with pytest.raises(EdgeIRError) as info:
        export("onnx")
    assert str(info.value) == (
        'target onnx needs onnxslim, which is not installed: pip install "edgeir[onnx]"'
    )


def test_option_not_accepted_is_an_error():
    with pytest.raises(EdgeIRError, match="target onnx does not accept --keep-fp32; it accepts --opset"):
        check_options(get_target("onnx"), {"keep_fp32": ["Conv"], "opset": None})
    with pytest.raises(EdgeIRError, match="does not accept --calib"):
        export("onnx-fp16", calib="frames/")


def test_options_left_at_default_are_fine():
    check_options(get_target("onnx"), {"opset": 17})
    check_available(get_target("onnx"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shape": (256, 256), "dynamic": "256x256:512x512"}, "one of --size, --dynamic or --sizes, found --size and --dynamic"),
        ({"shape": (250, 256)}, "multiples of 32"),
        ({"weights": "missing.pkl"}, "found nothing at missing.pkl"),
        ({"output": "model.xml"}, "ending in .onnx"),
        ({"variant": "xl"}, "unknown variant"),
        ({"opset": 9}, "--opset between 14 and 20"),
    ],
)
def test_bad_requests_fail_before_work(kwargs, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EdgeIRError, match=message):
        export("onnx", **kwargs)
    assert list(tmp_path.iterdir()) == []
