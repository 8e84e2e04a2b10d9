"""What ``pip install "edgeir[all]"`` leaves behind: one ONNX Runtime that works.

NVIDIA ModelOpt's ``[onnx]`` extra pulls ``onnxruntime-gpu``, which installs the same
module as ``onnxruntime``; two of them overwrite each other's files. The ``tensorrt`` extra
takes ModelOpt without it. CI installs ``.[all,dev]``, so these run on that environment.
"""

import importlib.metadata as metadata
import re

import numpy as np
import pytest

ONNXRUNTIME_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu", "onnxruntime-directml",
                             "onnxruntime-openvino", "onnxruntime-silicon", "onnxruntime-qnn")
"""Distributions that install the module ``onnxruntime``."""


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_extras_never_ask_for_a_second_onnxruntime():
    requirements = metadata.requires("edgeir") or []
    names = {_name(r) for r in requirements}
    assert "onnxruntime-gpu" not in names
    assert not any(_name(r) == "nvidia-modelopt" and "[" in r.split(";")[0] for r in requirements)
    assert any(_name(r) == "nvidia-modelopt" and 'extra == "tensorrt"' in r for r in requirements)


def test_one_working_onnxruntime_is_installed():
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    installed = []
    for name in ONNXRUNTIME_DISTRIBUTIONS:
        try:
            metadata.version(name)
            installed.append(name)
        except metadata.PackageNotFoundError:
            pass
    assert len(installed) == 1, f"several distributions install the module onnxruntime: {installed}"

    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    out = session.run(None, {"x": np.array([-1.0, 2.0], np.float32)})[0]
    np.testing.assert_array_equal(out, [0.0, 2.0])
