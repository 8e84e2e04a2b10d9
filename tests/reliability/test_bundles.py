"""Bundles read back on the device (issue 36, items 2, 8 and 10): every path in a bundle
stays inside it after symlinks, every array read from it has the dtype, shape and count
the bench needs and is finite, and a hand-edited or damaged ``bundle.json`` or ``.npz`` is
refused in one line naming the file and what was expected, before anything runs or is
written.

One small bundle is packed per module (two 64x64 frames; the exporter and the torch
reference are doubles, so packing takes a second) and copied for each case before it is
damaged. The device bench runs the identity double: what is checked is the bundle, not a
network.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeir import cli
from edgeir.bench import BenchConfig
from edgeir.bench import bundle as fmt
from edgeir.bench.bundle import open_bundle
from edgeir.bench.device import DeviceSettings, bench_bundle
from edgeir.bench.evalset import open_evalset
from edgeir.errors import EdgeIRError
from edgeir.fileio import sha256_of
from tests.reliability.conftest import IdentityRuntime, fake_export

TARGETS = ["onnx", "openvino"]


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """A bundle of the onnx and openvino targets (artifacts of the exporter double), two
    64x64 frames and the identity double's outputs as the torch reference."""
    import edgeir.export
    from edgeir.bench import pack as packing
    from edgeir.export import targets

    root = tmp_path_factory.mktemp("bundles")
    config = BenchConfig("s", "motion-deblur", "random", open_evalset("synthetic", "motion-deblur", (64, 64), limit=2),
                         root / "bundle", runs=1, warmup=0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(edgeir.export, "export", lambda target, **kwargs: fake_export(target, **kwargs))
        patch.setattr(targets, "check_available", lambda spec: None)
        patch.setattr(packing, "open_runtime", lambda config, target: (IdentityRuntime(), {"export_s": 0.0}))
        return packing.pack(config, TARGETS)


@pytest.fixture
def identity(monkeypatch):
    """The device's runtimes: every artifact opens as the identity double."""
    from edgeir import runtimes

    monkeypatch.setattr(runtimes, "load", lambda path, device=None, **options: IdentityRuntime())
    monkeypatch.setattr(runtimes, "why_unavailable", lambda runtime: None)


def _copy(packed: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "bundle"
    shutil.copytree(packed, copy, symlinks=True)
    return copy


def _index(bundle: Path) -> dict:
    return json.loads((bundle / fmt.INDEX).read_text())


def _write_index(bundle: Path, index: dict) -> None:
    (bundle / fmt.INDEX).write_text(json.dumps(index))


def _rehash(bundle: Path, *names: str) -> None:
    """List files as they are now: a bundle repacked by hand (or by someone hostile) passes
    the sha256 check, so only the checks after it can refuse it."""
    index = _index(bundle)
    index["files"].update({name: sha256_of(bundle / name) for name in names})
    _write_index(bundle, index)


def _bench(bundle: Path, tmp_path: Path):
    return bench_bundle(bundle, tmp_path / "report", DeviceSettings(runs=1, warmup=0), isolate=False)


def _refused(bundle: Path, tmp_path: Path, expected: str) -> str:
    """The device bench refuses ``bundle`` with one line holding ``expected``, before it
    writes any report."""
    with pytest.raises(EdgeIRError) as caught:
        _bench(bundle, tmp_path)
    line = str(caught.value)
    assert expected in line and "\n" not in line, line
    assert not (tmp_path / "report").exists()
    return line


@pytest.mark.correct_result
def test_an_intact_bundle_benches_every_target(packed, tmp_path, identity):
    """The checks refuse nothing that edgeir pack wrote (a symlink that stays inside too)."""
    bundle = _copy(packed, tmp_path)
    (bundle / "data").mkdir()
    shutil.move(bundle / fmt.FRAMES, bundle / "data" / fmt.FRAMES)
    os.symlink(Path("data") / fmt.FRAMES, bundle / fmt.FRAMES)
    run = _bench(bundle, tmp_path)
    assert [r.target for r in run.results] == ["input", *TARGETS]
    assert all(r.status == "ok" for r in run.results), [r.status for r in run.results]
    assert run.results[1].psnr_vs_fp32 == float("inf")  # the identity against its own outputs


# -- item 2: every path stays inside the bundle ------------------------------------------------

def _outside_artifact(bundle: Path, absolute: bool) -> None:
    """The onnx target's files moved out of the bundle and listed there with their sha256."""
    outside = bundle.parent / "outside"
    outside.mkdir()
    index = _index(bundle)
    target = index["targets"][0]
    moved = []
    for name in target["files"]:
        shutil.move(bundle / name, outside / Path(name).name)
        index["files"].pop(name)
        path = outside / Path(name).name
        moved.append(str(path) if absolute else os.path.relpath(path, bundle))
        index["files"][moved[-1]] = sha256_of(path)
    target["artifact"], target["files"] = moved[0], moved
    _write_index(bundle, index)


@pytest.mark.clear_error
@pytest.mark.parametrize("absolute", [False, True], ids=["dotdot", "absolute"])
def test_an_artifact_outside_the_bundle_is_refused(packed, tmp_path, identity, absolute):
    """Before: the artifact outside was benchmarked (rc 0)."""
    bundle = _copy(packed, tmp_path)
    _outside_artifact(bundle, absolute)
    line = _refused(bundle, tmp_path, "expected the bundle.json files entry to be a path inside")
    assert "(absolute paths and .. are refused)" in line and "outside" in line


@pytest.mark.clear_error
@pytest.mark.parametrize("digest", ["right", "wrong"])
def test_a_listed_file_outside_is_refused_before_it_is_hashed(packed, tmp_path, monkeypatch, digest):
    """Before: ``files["/etc/passwd"]`` with its right sha256 passed and a wrong one was
    refused: a hash oracle for any file the device can read. Now both are refused alike,
    and nothing outside is hashed."""
    secret = tmp_path / "secret"
    secret.write_text("not the bundle's\n")
    bundle = _copy(packed, tmp_path)
    index = _index(bundle)
    index["files"][str(secret)] = sha256_of(secret) if digest == "right" else "0" * 64
    _write_index(bundle, index)
    hashed = []
    monkeypatch.setattr(fmt, "sha256_of", lambda path: hashed.append(Path(path)) or sha256_of(path))
    with pytest.raises(EdgeIRError) as caught:
        open_bundle(bundle)
    assert str(caught.value) == (f"expected the bundle.json files entry to be a path inside {bundle}, found "
                                 f"{str(secret)!r} (absolute paths and .. are refused)")
    assert hashed == []


def _symlink_out(bundle: Path, name: str) -> None:
    """``name`` moved out of the bundle, a symlink to it left in its place."""
    outside = bundle.parent / "outside"
    outside.mkdir(exist_ok=True)
    shutil.move(bundle / name, outside / Path(name).name)
    os.symlink(outside / Path(name).name, bundle / name)


@pytest.mark.clear_error
@pytest.mark.parametrize("name, entry", [(fmt.FRAMES, "the bundle.json files entry 'frames.npz'"),
                                         (fmt.MODELS, "the bundle.json files entry 'models/"),
                                         (fmt.ENGINES, "the engine cache 'engines'")],
                         ids=["file", "folder", "engine-cache"])
def test_a_symlink_out_of_the_bundle_is_refused(packed, tmp_path, identity, name, entry):
    """Before: a symlink to a file outside (/etc/shadow in the probe) was read, and an
    ``engines`` symlink would have had TensorRT engines written outside."""
    bundle = _copy(packed, tmp_path)
    if name == fmt.ENGINES:
        (tmp_path / "elsewhere").mkdir()
        os.symlink(tmp_path / "elsewhere", bundle / fmt.ENGINES)
    else:
        _symlink_out(bundle, name)
    line = _refused(bundle, tmp_path, f"expected {entry}")
    assert "to stay inside" in line and "found a symlink to" in line


UNLISTED = {
    "frames": (lambda i: i["files"].pop(fmt.FRAMES), "expected frames.npz listed in the files of"),
    "artifact": (lambda i: (i["files"].pop(i["targets"][0]["artifact"]), i["targets"][0]["files"].pop(0)),
                 "expected every file of onnx in bundle.json, found models/convir-s_motion-deblur_onnx.onnx unlisted"),
    "weights": (lambda i: i["targets"][1]["files"].remove(i["targets"][1]["artifact"].replace(".xml", ".bin")),
                "expected every file of openvino in bundle.json, found models/convir-s_motion-deblur_openvino.bin "
                "unlisted"),
}


@pytest.mark.clear_error
@pytest.mark.parametrize("what", list(UNLISTED))
def test_a_file_the_bench_reads_must_be_listed(packed, tmp_path, identity, what):
    """Before: an artifact left out of the lists was never hashed, so any file could stand
    in for it (rc 0)."""
    bundle = _copy(packed, tmp_path)
    edit, expected = UNLISTED[what]
    index = _index(bundle)
    edit(index)
    _write_index(bundle, index)
    _refused(bundle, tmp_path, expected)


@pytest.mark.clear_error
def test_a_manifest_naming_other_weights_is_refused(packed, tmp_path, identity):
    """The OpenVINO manifest's ``weights_file`` names a file that is not among the target's
    (a symlink to anything): refused, so it is never hashed or read."""
    bundle = _copy(packed, tmp_path)
    index = _index(bundle)
    sidecar = next(f for f in index["targets"][1]["files"] if f.endswith(".manifest.json"))
    manifest = json.loads((bundle / sidecar).read_text())
    manifest["artifact"]["weights_file"] = "other.bin"
    (bundle / sidecar).write_text(json.dumps(manifest))
    os.symlink(tmp_path, bundle / "models" / "other.bin")
    _rehash(bundle, sidecar)
    _refused(bundle, tmp_path, "expected every file of openvino in bundle.json, found models/other.bin unlisted")


# -- item 10: bundle.json edited by hand -------------------------------------------------------

def _drop(*keys):
    def edit(index):
        parent = index
        for key in keys[:-1]:
            parent = parent[key]
        parent.pop(keys[-1])
    return edit


def _set(value, *keys):
    def edit(index):
        parent = index
        for key in keys[:-1]:
            parent = parent[key]
        parent[keys[-1]] = value(parent[keys[-1]]) if callable(value) else value
    return edit


INDEX_EDITS = {
    "no files": (_drop("files"), "expected files (an object of strings) in {index}, found none"),
    "no targets": (_drop("targets"), "expected targets (a list of objects) in {index}, found none"),
    "no evaluation": (_drop("evaluation"), "expected evaluation (an object) in {index}, found none"),
    "no reference": (_drop("reference"), "expected reference (an object) in {index}, found none"),
    "files a list": (_set(list, "files"),
                     "expected files to be an object of strings in {index}, found a list of strings"),
    "targets an object": (_set(lambda t: {"onnx": t[0]}, "targets"),
                          "expected targets to be a list of objects in {index}, found an object"),
    "a target without artifact": (_drop("targets", 0, "artifact"),
                                  "expected targets[0].artifact (a string) in {index}, found none"),
    "a target's files a string": (_set(lambda f: f[0], "targets", 1, "files"),
                                  "expected targets[1].files to be a list of strings in {index}, found \"models/"),
    "a target twice": (_set(lambda t: t + t[:1], "targets"), "expected each target once in {index}, found onnx twice"),
    "names a string": (_set("synthetic/0000", "evaluation", "names"),
                       "expected evaluation.names to be a non-empty list of strings in {index}, found "
                       "\"synthetic/0000\""),
    "names empty": (_set([], "evaluation", "names"),
                    "expected evaluation.names to be a non-empty list of strings in {index}, found an empty list"),
    "reference psnr a string": (_set("high", "reference", "psnr"),
                                "expected reference.psnr to be a finite number in {index}, found \"high\""),
    "reference psnr past a float": (_set(10**400, "reference", "psnr"),
                                    "expected reference.psnr to be a finite number in {index}, found 1000000"),
    "y_channel a string": (_set("no", "evaluation", "y_channel"),
                           "expected evaluation.y_channel to be true or false in {index}, found \"no\""),
    "tile zero": (_set(0, "evaluation", "tile"),
                  "expected evaluation.tile to be a positive integer or null in {index}, found 0"),
    "names longer than the frames": (_set(lambda n: n + ["synthetic/0002"], "evaluation", "names"),
                                     "expected the evaluation frames in {bundle}/frames.npz for the 3 frames bundle.json "
                                     "names, found no blurred_0002"),
}


@pytest.mark.clear_error
@pytest.mark.parametrize("edit", list(INDEX_EDITS))
def test_a_hand_edited_index_is_refused_in_one_line(packed, tmp_path, identity, edit):
    """Before: KeyError, AttributeError, TypeError or ValueError tracebacks, or (y_channel
    "no") a silent score on Y."""
    bundle = _copy(packed, tmp_path)
    change, expected = INDEX_EDITS[edit]
    index = _index(bundle)
    change(index)
    _write_index(bundle, index)
    _refused(bundle, tmp_path, expected.format(index=bundle / fmt.INDEX, bundle=bundle))


@pytest.mark.clear_error
def test_an_index_nested_past_the_recursion_limit_is_refused(packed, tmp_path):
    """Before: RecursionError (``read_json_object`` caught decode errors only)."""
    bundle = _copy(packed, tmp_path)
    (bundle / fmt.INDEX).write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(EdgeIRError, match=r"^expected JSON in a bundle index .*bundle.json, found values nested "
                                          r"too deeply to read$"):
        open_bundle(bundle)


# -- items 8 and 10: the arrays of a bundle ---------------------------------------------------

def _arrays(name):
    def damage(bundle, change):
        arrays = dict(np.load(bundle / name))
        arrays = change(arrays)
        (bundle / name).unlink()
        np.savez(bundle / name, **arrays)
    return damage


def _bytes(name, change):
    def damage(bundle):
        (bundle / name).write_bytes(change((bundle / name).read_bytes()))
    return damage


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _frames(change):
    return lambda bundle: _arrays(fmt.FRAMES)(bundle, change)


def _reference(change):
    return lambda bundle: _arrays(fmt.REFERENCE)(bundle, change)


def _each(change, prefix=""):
    return lambda arrays: {k: change(v) if k.startswith(prefix) else v for k, v in arrays.items()}


NPZ_DAMAGES = {
    "frames float64": (fmt.FRAMES, _frames(_each(lambda a: a.astype(np.float64))),
                       "expected blurred_0000 (synthetic/0000) in {path} as uint8 H x W x 3, found float64 "
                       "(64, 64, 3)"),
    "frames grey": (fmt.FRAMES, _frames(_each(lambda a: a[..., 0])),
                    "expected blurred_0000 (synthetic/0000) in {path} as uint8 H x W x 3, found uint8 (64, 64)"),
    "sharp of another size": (fmt.FRAMES, _frames(_each(lambda a: a[:32], "sharp")),
                              "expected sharp_0000 (synthetic/0000) in {path} of shape (64, 64, 3) like its blurred "
                              "frame, found (32, 64, 3)"),
    "frames without a pair": (fmt.FRAMES, _frames(lambda a: {k: v for k, v in a.items() if k != "sharp_0001"}),
                              "expected the evaluation frames in {path} for the 2 frames bundle.json names, found no "
                              "sharp_0001"),
    "frames with an extra array": (fmt.FRAMES, _frames(lambda a: {**a, "blurred_0002": a["blurred_0000"]}),
                                   "found an extra array blurred_0002"),
    "frames garbage": (fmt.FRAMES, _bytes(fmt.FRAMES, lambda b: b"not an archive" * 20),
                       "expected the evaluation frames as a numpy .npz archive in {path}, found a damaged file"),
    "frames truncated": (fmt.FRAMES, _bytes(fmt.FRAMES, lambda b: b[: len(b) // 2]),
                         "expected the evaluation frames as a numpy .npz archive in {path}, found a damaged file"),
    "frames empty": (fmt.FRAMES, _bytes(fmt.FRAMES, lambda b: b""),
                     "expected the evaluation frames as a numpy .npz archive in {path}, found a damaged file"),
    "frames one .npy": (fmt.FRAMES, _bytes(fmt.FRAMES, lambda b: _npy(np.zeros((2, 2, 3), np.uint8))),
                        "found a damaged file (a single array, not an archive of them)"),
    "reference all NaN": (fmt.REFERENCE, _reference(_each(lambda a: np.full_like(a, np.nan))),
                          "expected finite values in output_0000 in {path}, found NaN or infinity"),
    "reference uint8": (fmt.REFERENCE, _reference(_each(lambda a: (a * 255).astype(np.uint8))),
                        "expected output_0000 in {path} as float32 H x W x 3, found uint8 (64, 64, 3)"),
    "reference float64": (fmt.REFERENCE, _reference(_each(lambda a: a.astype(np.float64))),
                          "expected output_0000 in {path} as float32 H x W x 3, found float64 (64, 64, 3)"),
    "reference of another size": (fmt.REFERENCE, _reference(_each(lambda a: a[:, :32])),
                                  "expected output_0000 in {path} of shape (64, 64, 3) like its frame, found "
                                  "(64, 32, 3)"),
    "reference one frame short": (fmt.REFERENCE, _reference(lambda a: {"output_0000": a["output_0000"]}),
                                  "expected the torch FP32 outputs in {path} for the 2 frames bundle.json names, found "
                                  "no output_0001"),
    "reference garbage": (fmt.REFERENCE, _bytes(fmt.REFERENCE, lambda b: b"PK\x03\x04" + b"\0" * 64),
                          "expected the torch FP32 outputs as a numpy .npz archive in {path}, found a damaged file"),
}


@pytest.mark.clear_error
@pytest.mark.parametrize("damage", list(NPZ_DAMAGES))
def test_damaged_arrays_are_refused_in_one_line(packed, tmp_path, identity, damage):
    """Before: float64 frames scored PSNR 3.69 and an all-NaN reference scored as identical
    to FP32 (both rc 0); a missing array, a truncated or foreign file gave KeyError,
    BadZipFile or ValueError tracebacks; a short reference failed each target."""
    bundle = _copy(packed, tmp_path)
    name, change, expected = NPZ_DAMAGES[damage]
    change(bundle)
    _rehash(bundle, name)
    _refused(bundle, tmp_path, expected.format(path=bundle / name))


class _Marker:
    """Unpickling it writes a file: proof that a pickle ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.write_text, (Path(self.path), "a pickle ran"))


@pytest.mark.clear_error
def test_an_object_array_is_refused_and_never_unpickled(packed, tmp_path, identity):
    bundle = _copy(packed, tmp_path)
    marker = tmp_path / "pickle-ran"
    arrays = dict(np.load(bundle / fmt.FRAMES))
    arrays["blurred_0000"] = np.array([_Marker(marker)], dtype=object)
    np.savez(bundle / fmt.FRAMES, **arrays)
    _rehash(bundle, fmt.FRAMES)
    _refused(bundle, tmp_path, "found a damaged file (Object arrays cannot be loaded when allow_pickle=False)")
    assert not marker.exists()


@pytest.mark.clear_error
def test_the_cli_says_one_line_and_exits_1(packed, tmp_path, identity):
    bundle = _copy(packed, tmp_path)
    _outside_artifact(bundle, absolute=False)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["bench", "--bundle", str(bundle), "--in-process", "--out", str(tmp_path / "report")])
    assert code == 1
    lines = err.getvalue().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgeir: error: expected the bundle.json files entry"), lines
    assert not (tmp_path / "report").exists()
