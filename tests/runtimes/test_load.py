import shutil

import numpy as np
import pytest
import torch

from edgeir import EdgeIRError
from edgeir.runtimes import load
from tests.conftest import random_model


def test_torch_backend_from_model_and_checkpoint(random_checkpoint):
    x = np.random.default_rng(0).random((1, 3, 256, 256), dtype=np.float32)
    with torch.no_grad():
        expected = random_model("s")(torch.from_numpy(x))[2].numpy()
    for source in (random_model("s"), random_checkpoint):
        runtime = load(source, device="cpu")
        assert runtime.info.backend == "torch" and runtime.info.precision == "fp32"
        assert np.abs(runtime(x) - expected).max() < 1e-5


def test_checkpoint_task_sets_the_size_rule(random_checkpoint, tmp_path):
    derain = tmp_path / "derain.pth"
    torch.save({"model": random_model("s", "derain").state_dict()}, derain)
    runtime = load(derain, task="derain")
    assert runtime(np.zeros((1, 3, 128, 160), np.float32)).shape == (1, 3, 128, 160)
    with pytest.raises(EdgeIRError, match="at least 256"):
        load(random_checkpoint)(np.zeros((1, 3, 128, 160), np.float32))


def test_onnx_backend_from_manifest(exported_s):
    runtime = load(exported_s.artifact)
    info = runtime.info
    assert (info.backend, info.precision, info.device) == ("onnxruntime", "fp32", "CPUExecutionProvider")
    assert info.shapes.max == (1088, 1920) and info.manifest.variant == "s"


def test_onnx_without_manifest_uses_graph_metadata(exported_s, tmp_path):
    bare = tmp_path / "bare.onnx"
    shutil.copy(exported_s.artifact, bare)
    runtime = load(bare)
    assert runtime.info.manifest.target == "onnx" and not runtime.info.notes


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (np.zeros((1, 3, 256, 256), np.float64), "float32"),
        (np.zeros((3, 256, 256), np.float32), "N x 3 x H x W"),
        (np.zeros((1, 3, 250, 256), np.float32), "pad it to 256x256"),
        (np.zeros((1, 3, 1120, 256), np.float32), "from 256x256 to 1088x1920"),
    ],
)
def test_inputs_are_checked(exported_s, x, message):
    with pytest.raises(EdgeIRError, match=message):
        load(exported_s.artifact)(x)


def test_unknown_files(tmp_path):
    with pytest.raises(EdgeIRError, match="found nothing at"):
        load(tmp_path / "missing.onnx")
    odd = tmp_path / "model.tflite"
    odd.write_bytes(b"x")
    with pytest.raises(EdgeIRError, match="found model.tflite"):
        load(odd)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a graph")
    with pytest.raises(EdgeIRError, match="onnxruntime can load"):
        load(broken)


def test_runtime_modules_do_not_import_export():
    import subprocess
    import sys

    code = (
        "import sys, edgeir.runtimes, edgeir.runtimes.restorer, edgeir.runtimes.onnxruntime_backend,"
        " edgeir.runtimes.openvino_backend, edgeir.runtimes.ncnn_backend;"
        "print(any(m.startswith('edgeir.export') for m in sys.modules), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_bad_devices(exported_s):
    with pytest.raises(EdgeIRError, match="torch device"):
        load(random_model("s"), device="tpu:0")
    if not torch.cuda.is_available():
        with pytest.raises(EdgeIRError, match="CUDA GPU"):
            load(random_model("s"), device="cuda")
    with pytest.raises(EdgeIRError, match="device this onnxruntime can use"):
        load(exported_s.artifact, device="npu")


def test_torch_backend_leaves_the_callers_model_in_place():
    model = random_model("s")
    runtime = load(model, device="cpu")
    assert runtime.model.Encoder[0].layers[0].main[0].main[0].weight is model.Encoder[0].layers[0].main[0].main[0].weight
    runtime.close()


def test_openvino_ir_needs_its_weights(tmp_path):
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    lone = tmp_path / "model.xml"
    lone.write_text("<net/>")
    with pytest.raises(EdgeIRError, match="expected the weights model.bin beside model.xml"):
        load(lone)
    (tmp_path / "model.bin").write_bytes(b"")
    with pytest.raises(EdgeIRError, match="OpenVINO IR that OpenVINO can read"):
        load(lone)


def test_named_models_use_the_default_weights():
    from edgeir.models.weights import DEMO_DESCRIPTION

    assert load("convir-s", device="cpu").info.weights == DEMO_DESCRIPTION
    assert "random initialisation of ConvIR-L" in load("convir-l", device="cpu").info.weights
    with pytest.raises(EdgeIRError, match="a model file or one of convir-s, convir-b, convir-l"):
        load("convir-xl")


def test_missing_runtime_names_its_extra():
    from edgeir.runtimes.base import import_runtime

    with pytest.raises(EdgeIRError, match=r'running X needs edgeir_no_such_runtime, which is not installed: pip install "edgeir\[x\]"'):
        import_runtime("edgeir_no_such_runtime", "running X", "x")


def test_why_a_runtime_cannot_run_here(monkeypatch):
    import importlib.util
    import sys

    from edgeir.runtimes import why_unavailable

    assert why_unavailable("torch") is None
    real_find_spec = importlib.util.find_spec
    missing = {"openvino", "torch"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in missing else real_find_spec(name, *a))
    assert why_unavailable("openvino") == 'openvino is not installed: pip install "edgeir[ov]"'
    assert why_unavailable("torch") == 'torch is not installed: pip install "edgeir[host]"'
    if sys.platform != "darwin":
        assert why_unavailable("coreml").startswith("Core ML runs only on macOS (and iOS), found ")
    with pytest.raises(EdgeIRError, match="expected a runtime edgeir knows \\(onnxruntime, openvino, tensorrt, coreml, executorch, ncnn, torch\\), found 'tflite'"):
        why_unavailable("tflite")


def test_thread_counts_reach_the_runtimes_that_take_them(exported_s, exported_openvino, random_checkpoint):
    onnx = load(exported_s.artifact, threads=1)
    assert "intra_op_num_threads=1" in onnx.info.providers
    assert onnx.session.get_session_options().intra_op_num_threads == 1
    openvino = load(exported_openvino.artifact, threads=1)
    assert openvino.compiled.get_property("INFERENCE_NUM_THREADS") == 1
    with pytest.raises(EdgeIRError, match="expected a runtime that takes a thread count .*found torch"):
        load(random_checkpoint, threads=2)
    with pytest.raises(EdgeIRError, match="threads of at least 1, found 0"):
        load(exported_s.artifact, threads=0)
