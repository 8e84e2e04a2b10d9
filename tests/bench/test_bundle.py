"""Host to device: a bundle packed here, benchmarked as the device would, equal to the host's
figures on the same frames; tampered or partial bundles refused with the file named; nothing
in a bundle changed by the device bench."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("onnxslim", reason="the onnx extra is not installed")

from edgeir import cli  # noqa: E402
from edgeir.bench import BenchConfig, bench  # noqa: E402
from edgeir.bench.bundle import open_bundle  # noqa: E402
from edgeir.bench.device import DeviceSettings, bench_bundle  # noqa: E402
from edgeir.bench.evalset import open_evalset  # noqa: E402
from edgeir.bench.pack import pack  # noqa: E402
from edgeir.errors import EdgeIRError  # noqa: E402
from edgeir.fileio import sha256_of  # noqa: E402


def _config(out):
    return BenchConfig("s", "motion-deblur", None, open_evalset("synthetic", "motion-deblur", (256, 256), limit=2),
                       out, runs=2, warmup=0)


@pytest.fixture(scope="module")
def host_and_bundle(tmp_path_factory):
    """``edgeir bench`` on the host, then a bundle packed from its export cache."""
    root = tmp_path_factory.mktemp("bundle")
    host = bench(_config(root / "host"), ["torch", "onnx"], isolate=False)
    bundle = pack(_config(root / "bundle"), ["onnx"], cache=root / "host")
    return host, bundle, root


def _files(folder):
    return {p.relative_to(folder).as_posix(): sha256_of(p) for p in folder.rglob("*") if p.is_file()}


def test_the_bundle_lists_every_file_with_its_hash(host_and_bundle):
    _, bundle, _ = host_and_bundle
    index = json.loads((bundle / "bundle.json").read_text())
    on_disk = _files(bundle)
    on_disk.pop("bundle.json")
    assert index["files"] == on_disk
    assert {"frames.npz", "reference.npz"} <= set(index["files"])
    onnx = index["targets"][0]
    assert onnx["target"] == "onnx" and onnx["runtime"] == "onnxruntime" and onnx["precision"] == "fp32"
    assert onnx["artifact"].endswith(".onnx") and onnx["artifact"] + ".manifest.json" in onnx["files"]
    assert index["evaluation"]["names"] == ["synthetic/0000", "synthetic/0001"]
    assert set(index["host"]) >= {"cpu", "cpu_features", "libraries", "power_mode", "jetson_clocks"}
    assert index["reference"]["precision"] == "fp32" and index["reference"]["psnr"] > 20


def test_the_device_bench_equals_the_host_bench(host_and_bundle, tmp_path):
    host, bundle, _ = host_and_bundle
    device = bench_bundle(bundle, tmp_path / "report", DeviceSettings(runs=2, warmup=0), isolate=False)
    host_onnx = next(r for r in host.results if r.target == "onnx")
    blurred, onnx = device.results
    assert blurred.target == "input" and blurred.psnr == host.results[0].psnr
    assert onnx.status == "ok", onnx.status
    assert abs(onnx.psnr - host_onnx.psnr) <= 0.01 and abs(onnx.psnr_drop - host_onnx.psnr_drop) <= 0.01
    assert onnx.ssim == host_onnx.ssim and onnx.psnr_vs_fp32 > 60
    assert onnx.int8_mac_share == host_onnx.int8_mac_share == 0.0  # the same profiling on the device
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert [t["target"] for t in report["targets"]] == ["input", "onnx"]
    assert "from the bundle" in report["evaluation"] and "power_mode" in report["machine"]


def test_the_device_bench_changes_nothing_in_the_bundle(host_and_bundle, tmp_path):
    _, bundle, _ = host_and_bundle
    before = _files(bundle)
    bench_bundle(bundle, tmp_path / "report", DeviceSettings(runs=1, warmup=0), isolate=False)
    assert _files(bundle) == before


def test_a_missing_runtime_is_skipped_with_the_reason(host_and_bundle, tmp_path, monkeypatch):
    from edgeir import runtimes

    _, bundle, _ = host_and_bundle
    monkeypatch.setattr(runtimes, "why_unavailable", lambda runtime: 'onnxruntime is not installed: pip install "edgeir[ort]"')
    _, onnx = bench_bundle(bundle, tmp_path / "report", DeviceSettings(runs=1, warmup=0), isolate=False).results
    assert onnx.status == 'skipped: onnxruntime cannot run here: onnxruntime is not installed: pip install "edgeir[ort]"'
    assert onnx.psnr is None and onnx.peak_rss_mb is None


def _copy(bundle, tmp_path, name):
    copy = tmp_path / name
    shutil.copytree(bundle, copy)
    return copy


def test_a_missing_file_is_refused_by_name(host_and_bundle, tmp_path):
    copy = _copy(host_and_bundle[1], tmp_path, "partial")
    (copy / "reference.npz").unlink()
    with pytest.raises(EdgeIRError, match=r"^expected reference.npz in the bundle .* found it missing"):
        open_bundle(copy)


def test_a_changed_byte_is_refused_by_name(host_and_bundle, tmp_path):
    copy = _copy(host_and_bundle[1], tmp_path, "tampered")
    index = json.loads((copy / "bundle.json").read_text())
    artifact = copy / index["targets"][0]["artifact"]
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 1
    artifact.write_bytes(bytes(data))
    with pytest.raises(EdgeIRError) as caught:
        open_bundle(copy)
    assert str(caught.value).startswith(f"expected {index['targets'][0]['artifact']} as packed")
    assert "\n" not in str(caught.value)


def test_an_artifact_from_another_bundle_is_refused(host_and_bundle, tmp_path):
    """Another bundle, consistent in itself (its index lists its own files), whose artifact is
    copied into this one."""
    bundle = host_and_bundle[1]
    other = _copy(bundle, tmp_path, "other")
    frames = dict(np.load(other / "frames.npz"))
    frames["blurred_0000"] = frames["blurred_0000"][::-1].copy()
    np.savez(other / "frames.npz", **frames)
    index = json.loads((other / "bundle.json").read_text())
    index["files"]["frames.npz"] = sha256_of(other / "frames.npz")
    (other / "bundle.json").write_text(json.dumps(index))
    open_bundle(other)  # a bundle of its own
    mixed = _copy(bundle, tmp_path, "mixed")
    shutil.copy2(other / "frames.npz", mixed / "frames.npz")
    with pytest.raises(EdgeIRError, match="^expected frames.npz as packed"):
        open_bundle(mixed)


def test_pack_and_bench_refuse_what_they_cannot_do(host_and_bundle, tmp_path, capsys):
    _, bundle, _ = host_and_bundle
    with pytest.raises(EdgeIRError, match="expected a new folder for the bundle"):
        pack(_config(bundle), ["onnx"])
    with pytest.raises(EdgeIRError, match="found torch: the bundle always holds"):
        pack(_config(tmp_path / "b"), ["torch", "onnx"])
    assert cli.main(["bench", "--bundle", str(bundle), "--data", "synthetic", "--out", str(tmp_path / "r")]) == 1
    assert "expected no --data with --bundle" in capsys.readouterr().err
    assert cli.main(["bench", "--bundle", str(tmp_path), "--out", str(tmp_path / "r")]) == 1
    assert "expected a bundle written by edgeir pack, found no bundle.json" in capsys.readouterr().err
    assert cli.main(["bench", "--bundle", str(bundle), "--targets", "openvino", "--out", str(tmp_path / "r")]) == 1
    assert "expected targets of the bundle (onnx), found openvino" in capsys.readouterr().err


def test_compare_writes_one_table_of_both_reports(host_and_bundle, tmp_path, capsys):
    _, bundle, root = host_and_bundle
    assert cli.main(["bench", "--bundle", str(bundle), "--runs", "1", "--warmup", "0", "--in-process",
                     "--out", str(tmp_path / "device")]) == 0
    assert cli.main(["bench", "--compare", str(root / "host" / "report.json"), str(tmp_path / "device"),
                     "--out", str(tmp_path / "both")]) == 0
    table = (tmp_path / "both" / "compare.md").read_text()
    assert table.count("| target | status A | status B |") == 1
    assert "| torch | ok | - |" in table and "| onnx | ok | ok |" in table
    assert json.loads((tmp_path / "both" / "compare.json").read_text())["targets"][2]["b"]["status"] == "ok"
    assert (tmp_path / "both" / "compare.png").stat().st_size > 0


def test_the_device_side_imports_no_host_package(host_and_bundle, tmp_path):
    """Restorer on ONNX and OpenVINO artifacts and the bundle bench, in a fresh process:
    none of torch, onnx, a converter, OpenCV, Pillow or rich is loaded."""
    pytest.importorskip("openvino", reason="the openvino extra is not installed")
    from edgeir.export import export

    _, bundle, _ = host_and_bundle
    index = json.loads((bundle / "bundle.json").read_text())
    ir = export("openvino", output=tmp_path / "s.xml", dynamic="256x256:256x256:256x256").artifact
    script = f"""
import sys
import numpy as np
import edgeir, edgeir.runtimes
from edgeir import Restorer
from edgeir.bench.device import DeviceSettings, bench_bundle
frame = np.zeros((200, 240, 3), np.uint8)
for path in ({str(bundle / index['targets'][0]['artifact'])!r}, {str(ir)!r}):
    with Restorer(path) as restorer:
        assert restorer.restore(frame).shape == frame.shape
host = ("torch", "onnx", "onnxslim", "modelopt", "nncf", "coremltools", "skimage", "tensorrt", "cv2")
print(" ".join(sorted(m for m in host + ("PIL", "rich") if m in sys.modules)))
# the bench draws its plots where matplotlib is installed (it loads Pillow) and its bars with
# rich where that is: neither is needed, but both may load here
bench_bundle({str(bundle)!r}, __import__("pathlib").Path({str(tmp_path / "r")!r}), DeviceSettings(runs=1, warmup=0), isolate=False)
print(" ".join(sorted(m for m in host if m in sys.modules)))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                          env={"MPLBACKEND": "Agg", **__import__("os").environ})
    assert done.returncode == 0, done.stderr[-2000:]
    restorer_loaded, bench_loaded = done.stdout.split("\n")[:2]
    assert restorer_loaded == "", f"Restorer loaded {restorer_loaded}"
    assert bench_loaded == "", f"the bundle bench loaded {bench_loaded}"
