"""The ExecuTorch backend on a tiny program lowered here in seconds: it runs what was
lowered, and refuses a device, a damaged file and a size the program was not made for
with one line."""

import numpy as np
import pytest

from edgeir import EdgeIRError
from edgeir.runtimes import load
from edgeir.runtimes.executorch_backend import ExecuTorchRuntime

pytest.importorskip("executorch", reason="the executorch extra is not installed")

SIZE = (128, 128)  # the smallest legal derain size


@pytest.fixture(scope="module")
def tiny_pte(tmp_path_factory):
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    torch.manual_seed(0)

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)

        def forward(self, x):
            return self.conv(x) + x

    module = Tiny().eval()
    captured = torch.export.export(module, (torch.zeros(1, 3, *SIZE),))
    program = to_edge_transform_and_lower(captured, partitioner=[XnnpackPartitioner()]).to_executorch()
    path = tmp_path_factory.mktemp("pte") / "tiny.pte"
    path.write_bytes(program.buffer)
    return path, module


def test_runs_what_was_lowered(tiny_pte):
    import torch

    path, module = tiny_pte
    runtime = load(path, task="derain")
    assert runtime.info.backend == "executorch"
    x = np.random.default_rng(0).random((1, 3, *SIZE), dtype=np.float32)
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(runtime(x), expected, atol=1e-5)


def test_a_size_the_program_was_not_made_for_is_one_line(tiny_pte):
    runtime = load(tiny_pte[0], task="derain")
    with pytest.raises(EdgeIRError, match="found executorch refusing a 1x3x160x128 float32 input"):
        runtime(np.zeros((1, 3, 160, 128), np.float32))


def test_refuses_a_gpu_device_and_a_damaged_file(tiny_pte, tmp_path):
    with pytest.raises(EdgeIRError, match="expected device cpu for an ExecuTorch program"):
        ExecuTorchRuntime(tiny_pte[0], None, device="cuda")
    damaged = tmp_path / "damaged.pte"
    damaged.write_bytes(tiny_pte[0].read_bytes()[:2000])
    with pytest.raises(EdgeIRError, match="expected an ExecuTorch program that this runtime can load"):
        load(damaged, task="derain")
