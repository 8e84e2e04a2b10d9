"""Shared fixtures. ``randomize_`` matters: with upstream's default initialisation
``lamb_l``, ``lamb_h``, ``inside_all`` and ``gamma`` are zero and the dynamic branches
contribute nothing, so a parity test on a fresh model proves nothing."""

from __future__ import annotations

import pytest
import torch
from torch import nn


def randomize_(model: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter and BatchNorm statistic a random value of a sane scale, so
    that activations stay O(1) through 16 residual blocks and errors stay comparable."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() > 1:
                std = 0.5 / param[0].numel() ** 0.5
                param.copy_(torch.randn(param.shape, generator=gen) * std)
            else:
                param.copy_(torch.rand(param.shape, generator=gen) * 2.0 - 1.0)
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=gen) + 0.5)
    return model


@pytest.fixture(autouse=True)
def _deterministic_threads():
    torch.manual_seed(0)
    yield


_MODELS: dict[tuple[str, str, int], nn.Module] = {}


def random_model(variant: str = "s", task: str = "motion-deblur", seed: int = 0) -> nn.Module:
    """A randomised faithful ConvIR in eval mode, cached per (variant, task, seed);
    tests must not modify it."""
    from edgeir.models import create_model

    key = (variant, task, seed)
    if key not in _MODELS:
        _MODELS[key] = randomize_(create_model(variant, task), seed=seed)
    return _MODELS[key]


PARITY_ERRORS: list[float] = []
"""Max abs errors seen by the rewrite parity tests, summarised at the end of the run."""


def pytest_collection_modifyitems(session, config, items):
    """The README's examples first: what a reader runs is checked before CI's time budget
    can stop the slow tests (``.ci/run``)."""
    items.sort(key=lambda item: item.path.name != "test_readme.py")


def pytest_terminal_summary(terminalreporter):
    if PARITY_ERRORS:
        terminalreporter.write_line(
            f"rewrite parity: max abs error {max(PARITY_ERRORS):.2e} over "
            f"{len(PARITY_ERRORS)} cases (tolerance 1e-4)"
        )


@pytest.fixture(scope="session")
def random_checkpoint(tmp_path_factory):
    """Upstream-layout checkpoint of ``random_model("s")``."""
    path = tmp_path_factory.mktemp("weights") / "convir_s_random.pkl"
    torch.save({"model": random_model("s").state_dict()}, path)
    return path


@pytest.fixture(scope="session")
def exported_s(random_checkpoint, tmp_path_factory):
    """ConvIR-S with randomised weights exported to dynamic ONNX (once per session)."""
    pytest.importorskip("onnxslim", reason="the onnx extra is not installed")
    from edgeir.export import export

    output = tmp_path_factory.mktemp("export") / "convir_s.onnx"
    return export("onnx", variant="s", weights=random_checkpoint, output=output)


@pytest.fixture(scope="session")
def exported_static(random_checkpoint, tmp_path_factory):
    """ConvIR-S with randomised weights exported to static 256x256 ONNX (once per session)."""
    pytest.importorskip("onnxslim", reason="the onnx extra is not installed")
    from edgeir.export import export

    output = tmp_path_factory.mktemp("export") / "convir_s_256.onnx"
    return export("onnx", variant="s", weights=random_checkpoint, output=output, shape=(256, 256))


@pytest.fixture(scope="session")
def exported_openvino(random_checkpoint, tmp_path_factory):
    """ConvIR-S with randomised weights exported to an f32 OpenVINO IR, 256 to 512 (once
    per session; tests copy it before changing anything)."""
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    pytest.importorskip("onnxslim", reason="the onnx extra is not installed")
    from edgeir.export import export

    out = tmp_path_factory.mktemp("ov") / "s.xml"
    return export("openvino", weights=random_checkpoint, output=out, dynamic="256x256:256x256:512x512")


@pytest.fixture(scope="session")
def served(exported_s, tmp_path_factory):
    """``edgeir serve`` of ``exported_s`` in a child process with its own local Ray, shared by
    tests/distributed/test_serve.py and tests/reliability/test_serve.py (tests/serving.py)."""
    pytest.importorskip("ray.serve", reason='the ray extra is not installed: pip install "edgeir[ray]"')
    from .serving import serve_in_child

    with serve_in_child(exported_s.artifact, tmp_path_factory.mktemp("serve")) as server:
        yield server
