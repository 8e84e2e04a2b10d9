"""Every README example runs as written, in a folder holding the files it names (made
here: a checkpoint, images, a video, blur/sharp pairs, the ONNX export of the session);
blocks marked ``skip`` say why in the test report, and ``slow`` ones run with ``-m slow``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edgeir.manifest import manifest_path
from tests.readme_examples import examples

EXAMPLES = examples()
FRAME = (256, 256)


def _images(folder: Path, count: int, seed: int) -> None:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        cv2.imwrite(str(folder / f"{i:03d}.png"), rng.integers(0, 256, (*FRAME, 3), dtype=np.uint8))


def _video(path: Path, frames: int) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, FRAME[::-1])
    rng = np.random.default_rng(1)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (*FRAME, 3), dtype=np.uint8))
    writer.release()


def _copy_artifact(source: Path, target: Path) -> None:
    shutil.copy(source, target)
    shutil.copy(manifest_path(source), manifest_path(target))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, exported_s, random_checkpoint):
    """The files the examples name, small: 256x256 frames, 3-frame videos (64 for the
calibration one), ConvIR-S."""
    pytest.importorskip("cv2", reason="the video extra is not installed")
    folder = tmp_path_factory.mktemp("readme")
    shutil.copy(random_checkpoint, folder / "GoPro_small.pkl")
    for name in ("convir-s_motion-deblur_onnx.onnx", "model.onnx"):
        _copy_artifact(exported_s.artifact, folder / name)
    _images(folder / "frames", 32, 0)  # --calib frames/ takes 32 by default
    _images(folder / "blur", 32, 1)  # --calib pairs: takes 32 frames by default
    _images(folder / "sharp", 32, 2)
    shutil.copy(folder / "frames" / "000.png", folder / "blurry.png")
    for name in ("clip.mp4", "dashcam.mp4"):
        _video(folder / name, 3)
    _video(folder / "my_camera.mp4", 64)  # edgeir calib --calib-frames 64 takes 64 of its frames
    return folder


def _missing(extra: str) -> list[str]:
    """The requirements of an edgeir extra (its nested extras included) not installed here."""
    from importlib import metadata

    from packaging.requirements import Requirement

    missing = []
    for line in metadata.requires("edgeir") or []:
        requirement = Requirement(line)
        if requirement.marker is None or not requirement.marker.evaluate({"extra": extra}):
            continue
        if requirement.name == "edgeir":
            missing += [m for nested in sorted(requirement.extras) for m in _missing(nested)]
            continue
        try:
            metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            missing.append(requirement.name)
    return missing


def _marks(example):
    if example.skip_reason:
        return [pytest.mark.skip(reason=example.skip_reason)]
    missing = [(extra, _missing(extra)) for extra in example.extras()]
    marks = [pytest.mark.skip(reason=f"the {extra} extra is not installed (no {', '.join(names)})")
             for extra, names in missing if names]
    # a block of exports at the README's default ranges: beyond the suite's 900 s per test
    return marks + ([pytest.mark.slow, pytest.mark.timeout(3600)] if example.slow else [])


def _previous_python(example):
    """The python block a ``continues`` block continues."""
    return next(e for e in reversed(EXAMPLES[:EXAMPLES.index(example)]) if e.language == "python")


def _exported_by(command: str) -> list[Path]:
    """What an ``edgeir export`` line of the README writes (the workspace must not hold it yet,
    as a reader's folder would not)."""
    import shlex

    from edgeir.cli import build_parser
    from edgeir.export import default_output
    from edgeir.export.targets import get_target

    words = shlex.split(command, comments=True)
    if words[:2] != ["edgeir", "export"]:
        return []
    args = build_parser().parse_args(words[1:])
    output = Path(args.output) if args.output else default_output(get_target(args.target), args.variant, args.task)
    return [output, manifest_path(output)]


@pytest.mark.parametrize("example", [pytest.param(e, id=e.name, marks=_marks(e)) for e in EXAMPLES])
def test_example_runs_as_written(example, workspace, tmp_path):
    folder = tmp_path / "work"
    shutil.copytree(workspace, folder)
    for command in example.commands():
        for path in _exported_by(command):
            (folder / path).unlink(missing_ok=True)
    workspace = folder
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    if example.language == "python":
        code = example.code
        if example.continues:
            code = _previous_python(example).code + "\n" + code
        done = subprocess.run([sys.executable, "-c", code], cwd=workspace, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"{example.name} failed:\n{done.stderr[-3000:]}"
        return
    for command in example.commands():
        done = subprocess.run(["bash", "-c", command], cwd=workspace, env=env, capture_output=True, text=True,
                              timeout=1800)
        assert done.returncode == 0, f"{example.name}: `{command}` failed ({done.returncode}):\n{done.stderr[-3000:]}"


def test_the_readme_has_run_slow_and_skipped_blocks():
    # examples() raises on a block without a marker
    assert {e.marker for e in EXAMPLES if e.marker} >= {"run", "run slow", "run continues"}
    assert any(e.skip_reason for e in EXAMPLES)


def test_an_extra_that_is_not_installed_is_named(monkeypatch):
    from importlib import metadata

    installed = metadata.version

    def without_pnnx(name):
        if name == "pnnx":
            raise metadata.PackageNotFoundError(name)
        return installed(name)

    monkeypatch.setattr(metadata, "version", without_pnnx)
    assert _missing("ncnn") == ["pnnx"] and _missing("all") == ["pnnx"]  # all holds ncnn
    assert _missing("ncnn-runtime") == [] and _missing("no-such-extra") == []
    example = examples('<!-- example: run slow -->\n```bash\npip install -e ".[ov,ncnn]"\nedgeir info\n```\n')[0]
    assert example.extras() == ["ov", "ncnn"]


def test_a_block_without_a_marker_is_refused():
    with pytest.raises(ValueError, match="README.md:2: a bash block without"):
        examples("text\n```bash\nedgeir --help\n```\n")


def test_every_edgeir_command_in_the_readme_parses_with_todays_names(capsys):
    """Cheap, in the default suite: each ``edgeir ...`` line of every block (run or not) is
    a valid command line that uses no old spelling."""
    import shlex

    from edgeir.cli import build_parser

    parser = build_parser()
    checked = 0
    for example in EXAMPLES:
        if example.language == "python":
            continue
        for command in example.commands():
            for part in command.split("&&"):
                words = shlex.split(part.strip(), comments=True)
                if words[:1] != ["edgeir"] or words[1:2] in (["--help"], ["--version"]) or "..." in words:
                    continue  # not a command line of edgeir, or one with the rest elided
                try:
                    parser.parse_args(words[1:])
                except SystemExit:
                    pytest.fail(f"{example.name}: `{part.strip()}` does not parse:\n{capsys.readouterr().err}")
                warned = capsys.readouterr().err
                assert not warned, f"{example.name}: `{part.strip()}` uses an old name: {warned}"
                checked += 1
    assert checked > 30
