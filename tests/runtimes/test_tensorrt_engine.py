"""Optimization profiles, build commands, and the engine builder's calls for TensorRT 10
and 11, against a recording double of the ``tensorrt`` module (it records; it builds no
engine, and no test claims one was built)."""

import pytest

from edgeir.errors import EdgeIRError
from edgeir.runtimes.tensorrt_engine import Profile, build_commands, build_engine
from edgeir.shapes import InputShapes
from tests.export.tensorrt import recording_tensorrt
from tests.runtimes.recording_cudart import RecordingCudart


def test_profile_of_a_dynamic_range():
    shapes = InputShapes.dynamic("256x256:736x1280:1088x1920", "motion-deblur", batch=4)
    profile = Profile.from_shapes(shapes, "input")
    assert profile.min == (1, 3, 256, 256)
    assert profile.opt == (4, 3, 736, 1280)
    assert profile.max == (4, 3, 1088, 1920)
    assert all(a <= b <= c for a, b, c in zip(profile.min, profile.opt, profile.max))
    assert profile.trtexec_flags() == ["--minShapes=input:1x3x256x256", "--optShapes=input:4x3x736x1280",
                                       "--maxShapes=input:4x3x1088x1920"]


def test_profile_of_a_static_shape():
    profile = Profile.from_shapes(InputShapes.fixed((256, 512), "motion-deblur", batch=2), "input")
    assert profile.min == profile.opt == profile.max == (2, 3, 256, 512)


@pytest.mark.parametrize("spec, message", [
    ("250x256:512x512:768x768", "multiples of 32"),  # illegal size
    ("224x224:512x512:768x768", "at least 256"),  # below the task's smallest side
    ("512x512:256x256:768x768", "MIN <= OPT <= MAX"),
])
def test_illegal_profiles_are_refused(spec, message):
    with pytest.raises(EdgeIRError, match=message):
        Profile.from_shapes(InputShapes.dynamic(spec, "motion-deblur"), "input")


def test_build_commands(tmp_path):
    shapes = InputShapes.dynamic("256x256:512x512:768x768", "motion-deblur", batch=2)
    commands = build_commands(tmp_path / "m.trt.onnx", tmp_path / "m.engine", Profile.from_shapes(shapes, "input"),
                              shapes, "fp16", 2048)
    assert commands["edgeir"] == (f"edgeir build-engine {tmp_path / 'm.trt.onnx'} --dynamic "
                                  f"256x256:512x512:768x768 --batch 2 -o {tmp_path / 'm.engine'}")
    assert "--maxShapes=input:2x3x768x768" in commands["trtexec"]
    assert "--stronglyTyped" in commands["trtexec"] and "workspace:2048M" in commands["trtexec"]


def _profile():
    return Profile("input", (1, 3, 256, 256), (1, 3, 512, 512), (1, 3, 768, 768))


@pytest.mark.parametrize("version, precision, flags", [
    ("10.13.0", "fp16", ["FP16"]),
    ("10.13.0", "int8", ["FP16", "INT8"]),
    ("11.0.0", "fp16", []),
    ("11.0.0", "int8", []),
])
def test_builder_calls(tmp_path, version, precision, flags):
    trt = recording_tensorrt.make(version)
    onnx_path, cache = tmp_path / "m.trt.onnx", tmp_path / "timing.cache"
    cache.write_bytes(b"old cache")
    data, record = build_engine(onnx_path, _profile(), precision, 1024, cache, trt=trt)
    names = [name for name, _ in trt.calls]
    args = dict(trt.calls[::-1])  # the first call of each name
    assert ("builder.create_network", (0,)) in trt.calls
    assert args["parser.parse_from_file"] == (str(onnx_path),)
    assert args["config.set_memory_pool_limit"] == ("WORKSPACE", 1024 << 20)
    assert [a[0].name for n, a in trt.calls if n == "config.set_flag"] == flags
    assert args["profile.set_shape"] == ("input", (1, 3, 256, 256), (1, 3, 512, 512), (1, 3, 768, 768))
    assert args["config.create_timing_cache"] == (b"old cache",)
    assert names.index("config.add_optimization_profile") < names.index("builder.build_serialized_network")
    assert cache.read_bytes() == b"timing-cache"  # written back after the build
    assert record["tensorrt"] == version
    assert record["build_mode"].startswith("weakly typed" if version.startswith("10") else "strongly typed")
    assert data == b"placeholder, not an engine"


def test_parser_errors_and_failed_builds_are_edgeir_errors(tmp_path):
    with pytest.raises(EdgeIRError, match="found 1 error.*importCol2Im"):
        build_engine(tmp_path / "m.trt.onnx", _profile(), "fp16", trt=recording_tensorrt.make("10.13.0", parse_ok=False))
    with pytest.raises(EdgeIRError, match="failed build"):
        build_engine(tmp_path / "m.trt.onnx", _profile(), "fp16", trt=recording_tensorrt.make("11.0.0", build_ok=False))


def test_unsupported_tensorrt_version(tmp_path):
    with pytest.raises(EdgeIRError, match="expected TensorRT 10 or 11, found TensorRT 8.6.1"):
        build_engine(tmp_path / "m.trt.onnx", _profile(), "fp16", trt=recording_tensorrt.make("8.6.1"))


def _trt_ready_graph(folder):
    """A TRT-ready ONNX as edgeir export writes it (bytes stand in for the graph: the recording
    double parses nothing) with its manifest."""
    from edgeir.manifest import Manifest, manifest_path

    graph = folder / "m.trt.onnx"
    graph.write_bytes(b"a graph")
    shapes = InputShapes.dynamic("256x256:512x512:768x768", "motion-deblur")
    Manifest(target="trt-fp16", precision="fp16", runtime="onnxruntime", variant="s", task="motion-deblur",
             weights={}, input={"name": "input"}, output={"name": "output"}, size_rule={}, shapes=shapes.to_dict(),
             versions={}, artifact={"file": graph.name}).write(manifest_path(graph))
    return graph


def test_the_engine_manifest_records_the_gpu_and_its_compute_capability(tmp_path, monkeypatch):
    """What edgeir build-engine (and an export where TensorRT is) writes: the GPU's name and the
    compute capability CUDA reports, read through edgeir.runtimes.cuda from the recording
    cudart double. The engine bytes are the TensorRT double's placeholder: nothing was built."""
    from edgeir.manifest import Manifest, manifest_path
    from edgeir.runtimes import cuda, tensorrt_engine

    cudart = RecordingCudart(gpus=("Orin (nvgpu)", "NVIDIA RTX A2000"))
    monkeypatch.setattr(cuda, "_cudart", lambda: cudart)
    graph = _trt_ready_graph(tmp_path)
    written = tensorrt_engine.write_engine(graph, tmp_path / "m.engine", trt=recording_tensorrt.make("10.13.0"))
    engine = Manifest.read(manifest_path(tmp_path / "m.engine")).details["engine"]
    assert written.details["engine"] == engine
    assert (engine["gpu"], engine["compute_capability"]) == ("Orin (nvgpu)", "8.7")  # the first GPU's
    assert (tmp_path / "m.engine").read_bytes() == b"placeholder, not an engine"


def test_without_a_gpu_neither_is_recorded(tmp_path, monkeypatch):
    from edgeir.runtimes import cuda

    monkeypatch.setattr(cuda, "_cudart", lambda: RecordingCudart(gpus=()))
    _, record = build_engine(tmp_path / "m.trt.onnx", _profile(), "fp16", trt=recording_tensorrt.make("11.0.0"))
    assert record["gpu"] is None and record["compute_capability"] is None


def test_engines_are_cached_by_graph_tensorrt_gpu_and_profile(tmp_path, monkeypatch):
    """What edgeir bench --bundle does on the device: the second run loads the engine it built.
    The GPU is keyed by its name, which fixes its compute capability (recorded, not keyed)."""
    from edgeir.manifest import Manifest, manifest_path
    from edgeir.runtimes import cuda, tensorrt_engine

    graph, cache = _trt_ready_graph(tmp_path), tmp_path / "engines"
    cudart = RecordingCudart(gpus=("Orin (nvgpu)",))
    monkeypatch.setattr(cuda, "_cudart", lambda: cudart)
    first = recording_tensorrt.make("10.13.0")
    engine, built = tensorrt_engine.cached_engine(graph, cache, trt=first)
    assert built and engine.parent == cache and engine.read_bytes() == b"placeholder, not an engine"
    manifest = Manifest.read(manifest_path(engine))
    assert manifest.runtime == "tensorrt" and manifest.details["engine"]["gpu"] == "Orin (nvgpu)"
    assert manifest.details["engine"]["compute_capability"] == "8.7"
    assert manifest.details["engine"]["profile"]["max"] == [1, 3, 768, 768]
    assert len(list(cache.glob("timing.*.cache"))) == 1  # kept beside the engines

    again = recording_tensorrt.make("10.13.0")
    assert tensorrt_engine.cached_engine(graph, cache, trt=again) == (engine, False)
    assert again.calls == []  # nothing built

    newer, _ = tensorrt_engine.cached_engine(graph, cache, trt=recording_tensorrt.make("11.0.0"))
    cudart.gpus = ("NVIDIA H100 80GB HBM3",)
    other_gpu, _ = tensorrt_engine.cached_engine(graph, cache, trt=recording_tensorrt.make("10.13.0"))
    graph.write_bytes(b"another graph")
    other_graph, _ = tensorrt_engine.cached_engine(graph, cache, trt=recording_tensorrt.make("10.13.0"))
    assert len({engine, newer, other_gpu, other_graph}) == 4
