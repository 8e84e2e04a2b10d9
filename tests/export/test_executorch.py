"""``executorch``: the XNNPACK-delegated program matches PyTorch and runs through the
backend, Restorer included."""

import numpy as np
import pytest

from edgeir import EdgeIRError
from edgeir.export import export
from edgeir.runtimes import load

pytest.importorskip("executorch", reason="the executorch extra is not installed")
pytestmark = pytest.mark.slow  # lowering ConvIR-S to XNNPACK takes over a minute


@pytest.fixture(scope="module")
def program(random_checkpoint, tmp_path_factory):
    return export("executorch", weights=random_checkpoint, shape=(256, 256),
                  output=tmp_path_factory.mktemp("et") / "s.pte")


def test_matches_pytorch_and_says_what_was_delegated(program):
    manifest = program.manifest
    assert manifest.target == "executorch" and manifest.precision == "fp32"
    assert manifest.parity["max_abs"] < 1e-4
    delegation = manifest.details["delegation"]
    assert delegation["delegated_subgraphs"] > 0 and delegation["delegated_nodes"] > delegation["portable_nodes"]


def test_the_backend_runs_what_the_export_verified(program, random_checkpoint):
    from edgeir.runtimes.torch_backend import TorchRuntime

    runtime = load(program.artifact)
    assert runtime.info.backend == "executorch" and runtime.info.precision == "fp32"
    x = np.random.default_rng(3).random((1, 3, 256, 256), dtype=np.float32)
    expected = TorchRuntime(random_checkpoint)(x)
    np.testing.assert_allclose(runtime(x), expected, atol=1e-4)
    with pytest.raises(EdgeIRError, match="static 1x3x256x256 input, found 1x3x288x256"):
        runtime(np.zeros((1, 3, 288, 256), np.float32))
