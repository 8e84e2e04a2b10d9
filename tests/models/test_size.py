import pytest
import torch

from edgeir import EdgeIRError
from edgeir.models import ConvIR, exportable, legal_size, min_side_for_task
from edgeir.models.registry import TASKS


@pytest.mark.parametrize(
    ("h", "w", "task", "expected"),
    [
        (1, 1, "motion-deblur", (256, 256)),
        (250, 250, "motion-deblur", (256, 256)),
        (256, 384, "motion-deblur", (256, 384)),
        (257, 255, "motion-deblur", (288, 256)),
        (720, 1280, "motion-deblur", (736, 1280)),
        (1080, 1920, "dehaze", (1088, 1920)),
        (3000, 4000, "desnow", (3008, 4000)),
        (100, 100, "derain", (128, 128)),
        (130, 129, "derain", (160, 160)),
        (480, 640, "derain", (480, 640)),
    ],
)
def test_legal_size(h, w, task, expected):
    assert legal_size(h, w, task) == expected


def test_minimum_side_per_task():
    assert {t: min_side_for_task(t) for t in TASKS} == {
        "motion-deblur": 256,
        "defocus-deblur": 256,
        "dehaze": 256,
        "desnow": 256,
        "derain": 128,
    }


@pytest.mark.parametrize("bad", [0, -32, 3.5, True, "256"])
def test_legal_size_rejects_non_sizes(bad):
    with pytest.raises(EdgeIRError, match="positive integer height"):
        legal_size(bad, 256)


@pytest.mark.parametrize("task", ["motion-deblur", "derain"])
def test_minimum_is_tight(task):
    """At the minimum the network runs; 32 less and PyTorch's reflection pad fails, which
    is what the size check exists to pre-empt."""
    model = ConvIR("s", task).eval()
    side = min_side_for_task(task)
    with torch.no_grad():
        assert model._forward(torch.rand(1, 3, side, side))[2].shape == (1, 3, side, side)
        with pytest.raises(RuntimeError):
            model._forward(torch.rand(1, 3, side - 32, side))


@pytest.mark.parametrize("shape", [(1, 3, 250, 256), (1, 3, 224, 256), (1, 3, 256, 200)])
def test_illegal_size_names_the_legal_one(shape):
    model = ConvIR("s").eval()
    legal = legal_size(shape[2], shape[3])
    for module in (model, exportable(model)):
        with pytest.raises(EdgeIRError, match=f"pad it to {legal[0]}x{legal[1]}") as info:
            module(torch.rand(*shape))
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("shape", [(1, 4, 256, 256), (3, 256, 256)])
def test_wrong_input_layout(shape):
    model = ConvIR("s").eval()
    for module in (model, exportable(model)):
        with pytest.raises(EdgeIRError, match="N x 3 x H x W"):
            module(torch.rand(*shape))
