"""Tracing and conversion of ConvIR-S for Core ML, on any OS: the module handed to
coremltools computes what the faithful model computes, and the ML program declares the
shapes and computes in the precision asked for."""

import pytest
import torch

pytest.importorskip("coremltools", reason="the coreml extra is not installed")

from edgeir.export.coreml.convert import convert, trace  # noqa: E402
from edgeir.export.coreml.program import summary  # noqa: E402
from edgeir.models import exportable  # noqa: E402
from edgeir.shapes import InputShapes  # noqa: E402
from tests.conftest import random_model  # noqa: E402

TASK = "motion-deblur"


@pytest.fixture(scope="module")
def traced():
    """One trace at the smallest size serves every shape mode (it reads no sizes)."""
    return trace(exportable(random_model("s")), InputShapes.fixed((256, 256), TASK))


@pytest.mark.parametrize("size", [(256, 256), (288, 352)])
def test_traced_module_equals_the_faithful_model(traced, size):
    x = torch.rand(1, 3, *size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = random_model("s")(x)[-1]
        found = traced(x)
    assert torch.max(torch.abs(found - expected)).item() <= 1e-5


def _input(spec):
    (declared,) = spec.description.input
    return declared.type.multiArrayType


@pytest.mark.parametrize("mode", ["range-fp16", "static-fp32"])
def test_conversion_declares_shapes_and_precision(traced, mode):
    from coremltools.proto import FeatureTypes_pb2

    if mode == "range-fp16":
        shapes, precision = InputShapes.dynamic("256x256:288x320:512x640", TASK), "fp16"
    else:
        shapes, precision = InputShapes.fixed((256, 320), TASK), "fp32"
    spec = convert(traced, shapes, precision, image_input=False, deployment="iOS16").get_spec()
    declared = _input(spec)
    assert declared.dataType == FeatureTypes_pb2.ArrayFeatureType.FLOAT32  # what every runtime takes
    (output,) = spec.description.output
    assert output.name == "output" and output.type.multiArrayType.dataType == FeatureTypes_pb2.ArrayFeatureType.FLOAT32
    if mode == "range-fp16":
        ranges = [(r.lowerBound, r.upperBound) for r in declared.shapeRange.sizeRanges]
        assert ranges == [(1, 1), (3, 3), (256, 512), (256, 640)]
        assert list(declared.shape) == [1, 3, 288, 320]  # OPT is the default shape
    else:
        assert list(declared.shape) == [1, 3, 256, 320]
        assert not declared.enumeratedShapes.shapes and not declared.shapeRange.sizeRanges
    program = summary(spec)
    want = "FLOAT16" if precision == "fp16" else "FLOAT32"
    assert program["compute_dtype"] == want
    assert program["not_in_compute_dtype"] == []  # every op computes in the asked precision
    assert set(program["compute"]) == {want}
    assert program["compute"][want] > 1000  # the whole network, not a stub


def test_enumerated_declaration_lists_every_size():
    import coremltools as ct
    from coremltools.converters.mil.mil import types

    from edgeir.export.coreml.convert import io_types

    shapes = InputShapes.enumerated("320x320,256x256", TASK)
    (declared,), _ = io_types(shapes, image_input=False)
    assert isinstance(declared.shape, ct.EnumeratedShapes)
    assert [tuple(s.shape) for s in declared.shape.shapes] == [(1, 3, 320, 320), (1, 3, 256, 256)]
    assert tuple(declared.shape.default) == (1, 3, 320, 320)
    assert types.builtin_to_string(declared.dtype) == "fp32"
