"""``edgeir triton-repo``: every config.pbtxt parses with Triton's own schema and matches
its artifact (names, types, dims, batching), model files are byte copies, and what cannot
work is refused in one line. Triton itself is not run here. TensorRT engines are test
doubles (bytes plus an engine manifest adapted from an ONNX export): no test claims that
TensorRT built or ran anything."""

from __future__ import annotations

import shutil
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from edgeir.errors import EdgeIRError
from edgeir.fileio import sha256_of
from edgeir.manifest import Manifest, manifest_path
from edgeir.shapes import InputShapes

pytest.importorskip("tritonclient.grpc", reason="the triton extra is not installed")
from google.protobuf import text_format  # noqa: E402
from tritonclient.grpc import model_config_pb2  # noqa: E402

from edgeir.distributed.triton import write_triton_repo  # noqa: E402
from edgeir.distributed.triton.gpus import compute_capability_of  # noqa: E402
from edgeir.distributed.triton.models import sanitise_name  # noqa: E402
from edgeir.distributed.triton.tensors import onnx_tensors  # noqa: E402


def parse(folder: Path) -> model_config_pb2.ModelConfig:
    config = model_config_pb2.ModelConfig()
    text_format.Parse((folder / "config.pbtxt").read_text(), config)
    return config


def params(config: model_config_pb2.ModelConfig) -> dict[str, str]:
    return {key: value.string_value for key, value in config.parameters.items()}


def copy_artifact(artifact: Path, folder: Path) -> Path:
    """The artifact, its manifest and an OpenVINO .bin, copied (fixtures are shared)."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in (artifact, manifest_path(artifact), artifact.with_suffix(".bin")):
        if source.is_file():
            shutil.copyfile(source, folder / source.name)
    return folder / artifact.name


def fake_engine(folder: Path, onnx_artifact: Path, gpu: str, *, static: bool = False, max_batch: int = 2,
                data: bytes | None = None, with_graph: bool = False, stem: str = "convir",
                compute_capability: str | None = None) -> Path:
    """An engine artifact as edgeir build-engine writes it (bare bytes + the graph's manifest with
    runtime tensorrt, the profile as shapes and details.engine), with placeholder bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    source = Manifest.read(manifest_path(onnx_artifact))
    shapes = (InputShapes.fixed((256, 256), source.task) if static
              else InputShapes.dynamic("256x256:512x512:768x768", source.task, batch=max_batch))
    engine = folder / f"{stem}.engine"
    engine.write_bytes(data if data is not None else b"\x00placeholder plan for " + gpu.encode() + bytes(range(256)))
    details = {"engine": {"tensorrt": "10.13.0", "gpu": gpu, "build_mode": "test double",
                          "onnx": f"{stem}.trt.onnx", "onnx_sha256": sha256_of(onnx_artifact)}}
    if compute_capability is not None:  # recorded by build-engine since it reads it from CUDA
        details["engine"]["compute_capability"] = compute_capability
    if with_graph:
        shutil.copyfile(onnx_artifact, folder / f"{stem}.trt.onnx")
    manifest = replace(source, target="trt-fp16", precision="fp16", runtime="tensorrt", shapes=shapes.to_dict(),
                       details=details, artifact={"file": engine.name, "sha256": sha256_of(engine),
                                                  "size_bytes": engine.stat().st_size})
    manifest.write(manifest_path(engine))
    return engine


def onnx_io(path: Path) -> tuple[list, list]:
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return list(graph.input), list(graph.output)


# --- ONNX Runtime -------------------------------------------------------------------------------

def test_dynamic_onnx(exported_s, tmp_path):
    artifact = exported_s.artifact
    [folder] = write_triton_repo([artifact], tmp_path / "repo", max_queue_delay_us=500, instances=2)
    assert folder == tmp_path / "repo" / artifact.stem
    config = parse(folder)
    manifest = Manifest.read(manifest_path(artifact))
    inputs, outputs = onnx_io(artifact)
    assert config.name == artifact.stem
    assert (config.backend, config.platform) == ("onnxruntime", "onnxruntime_onnx")
    assert config.max_batch_size == manifest.input_shapes.max_batch == 1  # the graph's batch is free
    assert [i.name for i in config.input] == [i.name for i in inputs] == ["input"]
    assert [o.name for o in config.output] == [o.name for o in outputs] == ["output"]
    for tensor in [*config.input, *config.output]:
        assert tensor.data_type == model_config_pb2.TYPE_FP32
        assert list(tensor.dims) == [3, -1, -1]  # batch left out, free sides -1
    assert config.dynamic_batching.max_queue_delay_microseconds == 500
    [group] = config.instance_group
    assert (group.count, group.kind) == (2, model_config_pb2.ModelInstanceGroup.KIND_CPU)
    [warmup] = config.model_warmup
    sample = warmup.inputs["input"]
    h, w = manifest.input_shapes.opt
    assert warmup.batch_size == 1 and list(sample.dims) == [3, h, w] and sample.zero_data
    assert sample.data_type == model_config_pb2.TYPE_FP32
    facts = params(config)
    assert facts["edgeir.layout"] == "NCHW" and facts["edgeir.color"] == "RGB"
    assert facts["edgeir.value_range"] == "[0.0, 1.0]"
    assert facts["edgeir.size_rule"] == '{"minimum": 256, "multiple": 32}'
    assert facts["edgeir.psnr_db"] == str(manifest.parity["psnr_db"])
    assert facts["edgeir.precision"] == "fp32" and facts["edgeir.variant"] == "s"
    assert facts["edgeir.task"] == "motion-deblur"
    assert facts["edgeir.weights_sha256"] == manifest.weights["sha256"]
    assert facts["edgeir.shapes"] == manifest.input_shapes.describe()
    assert (folder / "1" / "model.onnx").read_bytes() == artifact.read_bytes()
    assert sorted(p.name for p in folder.rglob("*")) == ["1", "config.pbtxt", "model.onnx"]
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no partial left


def test_static_onnx_gets_max_batch_size_0_and_full_dims(exported_static, tmp_path):
    [folder] = write_triton_repo([exported_static.artifact], tmp_path / "repo", name="deblur-256")
    config = parse(folder)
    assert config.name == "deblur-256" and folder.name == "deblur-256"
    assert config.max_batch_size == 0
    assert list(config.input[0].dims) == list(config.output[0].dims) == [1, 3, 256, 256]
    assert not config.HasField("dynamic_batching")
    assert config.model_warmup[0].batch_size == 1
    assert list(config.model_warmup[0].inputs["input"].dims) == [1, 3, 256, 256]
    assert params(config)["edgeir.shapes"] == "static 1x3x256x256"


@pytest.mark.parametrize("option, message", [
    ({"max_queue_delay_us": 100}, "expected a model with dynamic batching for --max-queue-delay-us"),
    ({"max_batch": 4}, "expected a graph with a free batch dimension for --max-batch"),
    ({"instances": 0}, "expected --instances of at least 1"),
])
def test_options_a_static_graph_cannot_take_are_refused(exported_static, tmp_path, option, message):
    with pytest.raises(EdgeIRError, match=message):
        write_triton_repo([exported_static.artifact], tmp_path / "repo", **option)
    assert not (tmp_path / "repo").exists()  # checked before anything is written


def test_onnx_kinds_and_max_batch(exported_s, tmp_path):
    [folder] = write_triton_repo([exported_s.artifact], tmp_path / "repo", kind="gpu", max_batch=8)
    config = parse(folder)
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
    assert config.max_batch_size == 8
    assert config.model_warmup[0].batch_size == 1  # the batch the export was planned for


def test_names_come_from_onnx_runtime_without_onnx(exported_s, tmp_path, monkeypatch):
    """A device install (numpy + onnxruntime): the same tensors, read by ONNX Runtime."""
    with_onnx = onnx_tensors(exported_s.artifact)
    monkeypatch.setitem(sys.modules, "onnx", None)
    assert onnx_tensors(exported_s.artifact) == with_onnx


# --- OpenVINO -----------------------------------------------------------------------------------

def test_openvino(exported_openvino, tmp_path):
    ov = pytest.importorskip("openvino")
    artifact = exported_openvino.artifact
    [folder] = write_triton_repo([artifact], tmp_path / "repo", name="convir_ov")
    config = parse(folder)
    assert config.backend == "openvino" and config.platform == ""
    assert config.max_batch_size == 1
    model = ov.Core().read_model(str(artifact))
    assert [i.name for i in config.input] == [t.get_any_name() for t in model.inputs]
    assert [o.name for o in config.output] == [t.get_any_name() for t in model.outputs]
    for tensor in [*config.input, *config.output]:
        assert tensor.data_type == model_config_pb2.TYPE_FP32 and list(tensor.dims) == [3, -1, -1]
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_CPU
    assert list(config.model_warmup[0].inputs["input"].dims) == [3, 256, 256]
    assert (folder / "1" / "model.xml").read_bytes() == artifact.read_bytes()
    assert (folder / "1" / "model.bin").read_bytes() == artifact.with_suffix(".bin").read_bytes()
    assert params(config)["edgeir.runtime_options"] == '{"INFERENCE_PRECISION_HINT": "f32"}'
    assert "ENABLE_BATCH_PADDING" not in params(config)


def test_openvino_batches_are_padded_and_gpu_is_refused(exported_openvino, tmp_path):
    [folder] = write_triton_repo([exported_openvino.artifact], tmp_path / "repo", max_batch=4)
    config = parse(folder)
    assert config.max_batch_size == 4 and params(config)["ENABLE_BATCH_PADDING"] == "YES"
    with pytest.raises(EdgeIRError, match="expected --kind cpu .* found gpu"):
        write_triton_repo([exported_openvino.artifact], tmp_path / "other", kind="gpu")


# --- TensorRT (engine test doubles) -------------------------------------------------------------

def test_tensorrt_engine(exported_static, tmp_path):
    engine = fake_engine(tmp_path / "orin", exported_static.artifact, "Orin (nvgpu)", max_batch=4)
    [folder] = write_triton_repo([engine], tmp_path / "repo")
    config = parse(folder)
    assert config.name == "convir"
    assert (config.backend, config.platform) == ("tensorrt", "tensorrt_plan")
    assert config.max_batch_size == 4  # the profile's largest batch
    assert [i.name for i in config.input] == ["input"] and [o.name for o in config.output] == ["output"]
    assert list(config.input[0].dims) == list(config.output[0].dims) == [3, -1, -1]
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
    assert config.model_warmup[0].batch_size == 4  # the profile's optimum: max batch at the opt size
    assert list(config.model_warmup[0].inputs["input"].dims) == [3, 512, 512]
    assert not config.cc_model_filenames
    assert (folder / "1" / "model.plan").read_bytes() == engine.read_bytes()  # the bare engine, no header
    facts = params(config)
    assert facts["edgeir.gpu"] == "Orin (nvgpu)" and facts["edgeir.precision"] == "fp16"
    assert facts["edgeir.tensors_from"] == "the manifest"  # no TRT-ready graph beside this one


def test_tensorrt_names_from_the_trt_ready_graph(exported_static, tmp_path):
    engine = fake_engine(tmp_path / "e", exported_static.artifact, "Orin (nvgpu)", static=True, with_graph=True)
    [folder] = write_triton_repo([engine], tmp_path / "repo")
    config = parse(folder)
    assert params(config)["edgeir.tensors_from"] == "the TRT-ready graph convir.trt.onnx"
    assert config.max_batch_size == 0 and list(config.input[0].dims) == [1, 3, 256, 256]


def test_engines_for_two_gpus_share_a_model(exported_static, tmp_path):
    orin = fake_engine(tmp_path / "orin", exported_static.artifact, "Orin (nvgpu)")
    a100 = fake_engine(tmp_path / "a100", exported_static.artifact, "NVIDIA A100-SXM4-80GB")
    [folder] = write_triton_repo([orin, a100], tmp_path / "repo")
    config = parse(folder)
    assert dict(config.cc_model_filenames) == {"8.7": "model_8.7.plan", "8.0": "model_8.0.plan"}
    assert (folder / "1" / "model_8.7.plan").read_bytes() == orin.read_bytes()
    assert (folder / "1" / "model_8.0.plan").read_bytes() == a100.read_bytes()
    assert not (folder / "1" / "model.plan").exists()  # a GPU of another capability has no engine
    assert '"gpu": "NVIDIA A100-SXM4-80GB"' in params(config)["edgeir.engines"]


def test_unknown_gpus_need_their_compute_capability(exported_static, tmp_path):
    orin = fake_engine(tmp_path / "orin", exported_static.artifact, "Orin (nvgpu)")
    other = fake_engine(tmp_path / "x", exported_static.artifact, "Prototype GPU X")
    with pytest.raises(EdgeIRError, match="pass --compute-capability 'Prototype GPU X=X.Y'"):
        write_triton_repo([orin, other], tmp_path / "repo")
    with pytest.raises(EdgeIRError, match="found 'Prototype GPU Y'"):  # a misspelt name is not ignored
        write_triton_repo([orin, other], tmp_path / "repo", compute_capabilities={"Prototype GPU Y": "9.0"})
    [folder] = write_triton_repo([orin, other], tmp_path / "repo", compute_capabilities={"Prototype GPU X": "9.0"})
    assert dict(parse(folder).cc_model_filenames) == {"8.7": "model_8.7.plan", "9.0": "model_9.0.plan"}


def test_a_recorded_compute_capability_comes_before_the_name_table(exported_static, tmp_path):
    """Engines of current edgeir record what CUDA reported: no table, no --compute-capability;
    a --compute-capability contradicting the record is refused."""
    orin = fake_engine(tmp_path / "orin", exported_static.artifact, "Orin (nvgpu)", compute_capability="8.7")
    other = fake_engine(tmp_path / "x", exported_static.artifact, "Prototype GPU X", compute_capability="11.0")
    [folder] = write_triton_repo([orin, other], tmp_path / "repo")
    assert dict(parse(folder).cc_model_filenames) == {"8.7": "model_8.7.plan", "11.0": "model_11.0.plan"}
    with pytest.raises(EdgeIRError, match="expected --compute-capability Prototype GPU X=11.0 as the manifest"):
        write_triton_repo([orin, other], tmp_path / "again", compute_capabilities={"Prototype GPU X": "9.0"})


def test_engines_for_one_compute_capability_are_refused(exported_static, tmp_path):
    a10 = fake_engine(tmp_path / "a10", exported_static.artifact, "NVIDIA A10")
    a40 = fake_engine(tmp_path / "a40", exported_static.artifact, "NVIDIA A40")
    with pytest.raises(EdgeIRError, match="both 8.6: Triton picks a plan by compute capability alone"):
        write_triton_repo([a10, a40], tmp_path / "repo")


def test_engines_of_different_models_cannot_share_a_name(exported_static, tmp_path):
    orin = fake_engine(tmp_path / "orin", exported_static.artifact, "Orin (nvgpu)", max_batch=2)
    t4 = fake_engine(tmp_path / "t4", exported_static.artifact, "Tesla T4", max_batch=4)
    with pytest.raises(EdgeIRError, match="found other shapes in convir.engine"):
        write_triton_repo([orin, t4], tmp_path / "repo")


@pytest.mark.parametrize("option, message", [
    ({"kind": "cpu"}, "expected --kind gpu .* found cpu"),
    ({"max_batch": 8}, "expected --max-batch of at most 2"),
])
def test_tensorrt_options_that_cannot_work(exported_static, tmp_path, option, message):
    engine = fake_engine(tmp_path / "e", exported_static.artifact, "Orin (nvgpu)", max_batch=2)
    with pytest.raises(EdgeIRError, match=message):
        write_triton_repo([engine], tmp_path / "repo", **option)


@pytest.mark.parametrize("gpu, capability", [
    ("Orin (nvgpu)", "8.7"), ("NVIDIA Orin", "8.7"), ("Xavier", "7.2"), ("Tesla T4", "7.5"),
    ("NVIDIA H100 80GB HBM3", "9.0"), ("NVIDIA A100-SXM4-80GB", "8.0"), ("NVIDIA A10G", "8.6"),
    ("NVIDIA RTX A2000", "8.6"), ("NVIDIA GeForce RTX 3090", "8.6"), ("NVIDIA GeForce RTX 4090", "8.9"),
    ("NVIDIA L4", "8.9"), ("NVIDIA GeForce RTX 2080 Ti", "7.5"), ("Tesla V100-SXM2-16GB", "7.0"),
    ("NVIDIA RTX 6000 Ada Generation", "8.9"), ("NVIDIA GeForce RTX 5090", "12.0"),
    ("Some Future GPU", None), ("NVIDIA A1000", None),
])
def test_known_compute_capabilities(gpu, capability):
    assert compute_capability_of(gpu) == capability


# --- refusals -----------------------------------------------------------------------------------

def _other_runtime(tmp_path: Path, onnx_artifact: Path, runtime: str, target: str, name: str) -> Path:
    artifact = tmp_path / name
    if name.endswith(".mlpackage"):
        artifact.mkdir(parents=True)
        (artifact / "Manifest.json").write_text("{}")
    else:
        artifact.write_bytes(b"not a model")
    source = Manifest.read(manifest_path(onnx_artifact))
    replace(source, runtime=runtime, target=target, artifact={}).write(manifest_path(artifact))
    return artifact


@pytest.mark.parametrize("runtime, target, name", [
    ("coreml", "coreml", "m.mlpackage"), ("torch", "torch", "m.pkl"),
])
def test_other_runtimes_are_refused(exported_static, tmp_path, runtime, target, name):
    artifact = _other_runtime(tmp_path, exported_static.artifact, runtime, target, name)
    with pytest.raises(EdgeIRError, match=f"expected an artifact of onnxruntime .*, found a {runtime} artifact"):
        write_triton_repo([artifact], tmp_path / "repo")


def test_missing_manifest_and_missing_file(exported_static, tmp_path):
    bare = tmp_path / "bare.onnx"
    shutil.copyfile(exported_static.artifact, bare)
    with pytest.raises(EdgeIRError, match="expected the manifest bare.onnx.manifest.json beside bare.onnx"):
        write_triton_repo([bare], tmp_path / "repo")
    with pytest.raises(EdgeIRError, match="expected an edgeir artifact at .*, found nothing"):
        write_triton_repo([tmp_path / "nothing.onnx"], tmp_path / "repo")


def test_a_stale_manifest_is_refused(exported_static, tmp_path):
    artifact = copy_artifact(exported_static.artifact, tmp_path / "a")
    with open(artifact, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(EdgeIRError, match="sha256 differs"):
        write_triton_repo([artifact], tmp_path / "repo")


def test_existing_model_folder_needs_overwrite(exported_static, tmp_path):
    repo = tmp_path / "repo"
    [folder] = write_triton_repo([exported_static.artifact], repo, name="m")
    (repo / "other").mkdir()  # another model in the repository: never touched
    with pytest.raises(EdgeIRError, match="found an existing .*m: pass --overwrite"):
        write_triton_repo([exported_static.artifact], repo, name="m", instances=3)
    assert parse(folder).instance_group[0].count == 1
    write_triton_repo([exported_static.artifact], repo, name="m", instances=3, overwrite=True)
    assert parse(folder).instance_group[0].count == 3
    assert sorted(p.name for p in repo.iterdir()) == ["m", "other"]


def test_duplicate_names_are_refused(exported_static, tmp_path):
    first = copy_artifact(exported_static.artifact, tmp_path / "a")
    second = copy_artifact(exported_static.artifact, tmp_path / "b")
    with pytest.raises(EdgeIRError, match="expected one artifact per model name, found 2 named"):
        write_triton_repo([first, second], tmp_path / "repo")
    with pytest.raises(EdgeIRError, match="given twice"):
        write_triton_repo([first, first], tmp_path / "repo")
    with pytest.raises(EdgeIRError, match="--name names one model"):
        write_triton_repo([first, tmp_path / "b" / first.name], tmp_path / "repo", name="x")
    assert not (tmp_path / "repo").exists()


def test_a_name_given_is_used_or_refused(exported_static, tmp_path):
    with pytest.raises(EdgeIRError, match="expected a model name of letters"):
        write_triton_repo([exported_static.artifact], tmp_path / "repo", name="../escape")
    assert sanitise_name("convir s.trt") == "convir_s_trt"


def test_a_failed_write_leaves_nothing(exported_static, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(shutil, "copyfile", broken)
    with pytest.raises(OSError, match="disk full"):
        write_triton_repo([exported_static.artifact], tmp_path / "repo", name="m")
    assert list((tmp_path / "repo").iterdir()) == []


def test_missing_tritonclient_names_the_extra(exported_static, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tritonclient.grpc", None)
    with pytest.raises(EdgeIRError, match=r'pip install "edgeir\[triton\]"'):
        write_triton_repo([exported_static.artifact], tmp_path / "repo")


# --- CLI ----------------------------------------------------------------------------------------

def test_cli(exported_s, exported_static, tmp_path, capsys):
    from edgeir.cli import main

    repo = tmp_path / "repo"
    code = main(["triton-repo", str(exported_s.artifact), str(exported_static.artifact), "--out", str(repo),
                 "--instances", "2", "--kind", "cpu"])
    assert code == 0
    out = capsys.readouterr().out
    assert f"{repo / exported_s.artifact.stem}: 1/model.onnx, config.pbtxt" in out
    assert f"tritonserver --model-repository {repo}" in out
    assert parse(repo / exported_static.artifact.stem).max_batch_size == 0

    code = main(["triton-repo", str(exported_s.artifact), "--out", str(repo)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and err.startswith("edgeir: error: expected a new model folder")


def test_cli_refuses_in_one_line(exported_static, tmp_path, capsys):
    from edgeir.cli import main

    engine = fake_engine(tmp_path / "e", exported_static.artifact, "Orin (nvgpu)")
    code = main(["triton-repo", str(engine), "--out", str(tmp_path / "repo"), "--kind", "cpu"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "expected --kind gpu" in err
    code = main(["triton-repo", str(engine), "--out", str(tmp_path / "repo"),
                 "--compute-capability", "Orin (nvgpu)=8.7"])
    assert code == 0 and (tmp_path / "repo" / "convir" / "1" / "model.plan").is_file()
