"""The Core ML backend: refused in one line off macOS; compute units named by ``device``."""

import sys

import pytest

from edgeir.errors import EdgeIRError
from edgeir.runtimes import load


@pytest.mark.skipif(sys.platform == "darwin", reason="Core ML runs here")
def test_loading_a_package_off_macos_says_core_ml_runs_only_on_macos(tmp_path):
    package = tmp_path / "s.mlpackage"
    (package / "Data").mkdir(parents=True)  # a package is a folder; not read before the refusal
    with pytest.raises(EdgeIRError) as caught:
        load(package)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("expected macOS to run the Core ML model s.mlpackage: Core ML runs only on macOS")


@pytest.mark.skipif(sys.platform != "darwin", reason="Core ML predicts only on macOS")
def test_unknown_compute_units_are_refused(tmp_path):
    package = tmp_path / "s.mlpackage"
    package.mkdir()
    with pytest.raises(EdgeIRError, match="expected device all, cpu, gpu, ane for Core ML"):
        load(package, device="tpu")
