"""The export-friendly rewrite: numerically the faithful model, and a clean graph.

Every model here is randomised first (see ``randomize_``): with upstream's default init
the dynamic branches are zero and a broken rewrite of them would still pass.
"""

from collections import Counter

import pytest
import torch

from edgeir.models import exportable
from edgeir.models.registry import TASKS, VARIANTS
from tests.conftest import PARITY_ERRORS, random_model

TOLERANCE = 1e-4
SIZES = [(256, 256), (256, 384), (320, 512)]
BATCHES = [1, 2]


def _max_error(variant, task, size, batch):
    model = random_model(variant, task)
    x = torch.rand(batch, 3, *size, generator=torch.Generator().manual_seed(batch))
    with torch.no_grad():
        expected = model(x)[2]
        got = exportable(model)(x)
    assert got.shape == expected.shape
    error = (got - expected).abs().max().item()
    PARITY_ERRORS.append(error)
    return error


@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_parity_every_variant_and_task(variant, task):
    assert _max_error(variant, task, (256, 256), 1) < TOLERANCE


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("task", ["motion-deblur", "derain"])
def test_parity_sizes_and_batches_s(task, size, batch):
    """Both dilation sets of S at every size and batch; the full grid is ``slow``."""
    assert _max_error("s", task, size, batch) < TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("task", list(TASKS))
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_parity_full_grid(variant, task, size, batch):
    assert _max_error(variant, task, size, batch) < TOLERANCE


def test_shares_parameters_under_upstream_names():
    """No copies: the rewrite's state dict is the faithful one minus the two auxiliary
    output heads, and its tensors are the same storage."""
    model = random_model("s")
    rewrite = exportable(model)
    faithful = model.state_dict()
    mirrored = rewrite.state_dict()
    assert set(faithful) - set(mirrored) == {
        k for k in faithful if k.startswith("ConvsOut.")
    }
    for key, tensor in mirrored.items():
        assert tensor.data_ptr() == faithful[key].data_ptr(), key


def test_follows_weights_loaded_later():
    """One checkpoint serves both: weights loaded into the faithful model after wrapping
    are what the rewrite computes with."""
    from edgeir import create_model

    model = create_model("s")
    rewrite = exportable(model)
    model.load_state_dict(random_model("s").state_dict())
    x = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        assert (rewrite(x) - random_model("s")(x)[2]).abs().max() < TOLERANCE


def test_faithful_model_is_left_untouched():
    model = random_model("s")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    rewrite = exportable(model)
    rewrite(torch.rand(1, 3, 256, 256))
    rewrite.train()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(m.training for m in model.modules())


def test_mode_does_not_matter():
    """BatchNorm is folded with its running statistics, so train() changes nothing, and
    a faithful model in training mode keeps it."""
    from edgeir import create_model

    model = create_model("s")
    model.load_state_dict(random_model("s").state_dict())
    model.train()
    rewrite = exportable(model).train()
    x = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        assert (rewrite(x) - random_model("s")(x)[2]).abs().max() < TOLERANCE
    assert all(m.training for m in model.modules())


@pytest.fixture(scope="module")
def onnx_graph(tmp_path_factory):
    onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
    path = tmp_path_factory.mktemp("onnx") / "convir_s.onnx"
    model = exportable(random_model("s"))
    with torch.no_grad():
        torch.onnx.export(
            model,
            (torch.rand(1, 3, 256, 256),),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"},
                          "output": {0: "batch", 2: "height", 3: "width"}},
        )
    return path, onnx.load(str(path))


def test_onnx_graph_is_clean(onnx_graph):
    _, model = onnx_graph
    graph = model.graph
    ops = Counter(node.op_type for node in graph.node)
    assert not {"ScatterND", "Loop", "If"} & set(ops), ops
    producers = {out: node for node in graph.node for out in node.output}
    constants = {init.name for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Gather":
            data = node.input[0]
            source = producers.get(data)
            assert data in constants or (source is not None and source.op_type in {"Shape", "Constant"}), (
                f"{node.name} gathers from a feature map ({data})"
            )
    assert ops["Conv"] == 142 and ops["Pad"] == 54  # every conv and every reflect pad kept


def test_onnx_graph_has_dynamic_height_and_width(onnx_graph):
    ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    path, model = onnx_graph
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in [(1, 3, 256, 384), (2, 3, 320, 256)]:
        x = torch.rand(*shape)
        with torch.no_grad():
            expected = random_model("s")(x)[2].numpy()
        got = session.run(None, {"input": x.numpy()})[0]
        assert abs(got - expected).max() < TOLERANCE


def test_export_leaves_faithful_model_in_eval(onnx_graph):
    assert not any(m.training for m in random_model("s").modules())


@pytest.mark.parametrize("task", ["motion-deblur", "derain"])
def test_traces_without_shape_casts(task):
    """coremltools cannot convert the ``aten::Int`` casts that ``x.shape`` arithmetic
    leaves in a trace; the rewrite must leave none (and no ``aten::size``)."""
    model = exportable(random_model("s", task))
    x = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        traced = torch.jit.trace(model, x, check_trace=False)
    kinds = Counter(node.kind() for node in traced.inlined_graph.nodes())
    assert kinds["aten::Int"] == 0 and kinds["aten::size"] == 0, kinds
    assert kinds["aten::im2col"] == 0 and kinds["aten::adaptive_avg_pool2d"] == 0
    with torch.no_grad():
        assert (traced(torch.rand(1, 3, 256, 256)).shape) == (1, 3, 256, 256)


def test_faithful_trace_would_fail_the_same_check():
    """The check above has teeth: upstream's formulation does leave shape casts."""

    class FullScale(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(x)[2]

    with torch.no_grad():
        traced = torch.jit.trace(FullScale(random_model("s")), torch.rand(1, 3, 256, 256), check_trace=False)
    kinds = Counter(node.kind() for node in traced.inlined_graph.nodes())
    assert kinds["aten::Int"] + kinds["aten::size"] > 0
