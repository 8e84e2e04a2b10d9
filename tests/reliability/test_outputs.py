"""Outputs: nothing edgeir did not write is deleted or replaced, an output is never one of
the inputs, and a write cut short (an error, Ctrl-C, SIGTERM, SIGKILL) leaves nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from edgeir import EdgeIRError
from edgeir.fileio import atomic_path, check_output, check_writable, remove_stale_partials

pytestmark = pytest.mark.clear_error


def _victim_folder(path):
    path.mkdir()
    (path / "precious.txt").write_text("keep me")
    return path


def test_an_export_onto_a_folder_is_refused_and_the_folder_survives(tmp_path):
    from edgeir.export import export

    victim = _victim_folder(tmp_path / "victim.onnx")
    for overwrite in (False, True):
        with pytest.raises(EdgeIRError, match="found the folder"):
            export("onnx", output=victim, overwrite=overwrite)
    assert (victim / "precious.txt").read_text() == "keep me"


def test_atomic_write_never_replaces_a_folder_with_a_file(tmp_path):
    victim = _victim_folder(tmp_path / "victim.png")
    with pytest.raises(EdgeIRError, match="does not replace folders"):
        with atomic_path(victim) as temp:
            temp.write_bytes(b"x")
    assert (victim / "precious.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["victim.png"]


@pytest.mark.parametrize("existing", ["artifact", "manifest", "weights"])
def test_an_existing_artifact_needs_overwrite(tmp_path, existing):
    from edgeir.export import export

    out = tmp_path / "s.xml"
    path = {"artifact": out, "manifest": tmp_path / "s.xml.manifest.json", "weights": tmp_path / "s.bin"}[existing]
    path.write_text("an earlier export")
    with pytest.raises(EdgeIRError, match="pass --overwrite"):
        export("openvino", output=out)
    assert path.read_text() == "an earlier export"


def test_the_cli_refuses_an_existing_artifact_before_any_work(tmp_path, capsys):
    from edgeir.cli import main

    out = tmp_path / "s.onnx"
    out.write_text("an earlier export")
    assert main(["export", "--target", "onnx", "-o", str(out)]) == 1
    assert "pass --overwrite" in capsys.readouterr().err
    assert out.read_text() == "an earlier export"


def _image(path):
    from edgeir.data.io import write_image

    write_image(path, np.full((40, 48, 3), 100, np.uint8))
    return path


@pytest.mark.parametrize("spelling", ["dotdot", "symlink", "hardlink", "same_folder"])
def test_an_output_that_is_the_input_is_refused_even_with_overwrite(tmp_path, identity, spelling):
    from edgeir.run import restore_files
    from edgeir.runtimes.restorer import Restorer

    (tmp_path / "in").mkdir()
    src = _image(tmp_path / "in" / "photo.png")
    before = src.read_bytes()
    if spelling == "dotdot":
        (tmp_path / "x").mkdir()
        out, source = tmp_path / "x" / ".." / "in" / "photo.png", src
    elif spelling == "symlink":
        out, source = tmp_path / "link.png", src
        out.symlink_to(src)
    elif spelling == "hardlink":
        out, source = tmp_path / "hard.png", src
        os.link(src, out)
    else:
        out, source = tmp_path / "in", tmp_path / "in"
    with pytest.raises(EdgeIRError, match="other than the input"):
        restore_files(Restorer(identity), source, out, overwrite=True)
    assert src.read_bytes() == before and identity.calls == []


def test_an_output_folder_that_cannot_be_written_fails_before_work(tmp_path, identity):
    from edgeir.run import restore_files
    from edgeir.runtimes.restorer import Restorer

    src = _image(tmp_path / "photo.png")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(EdgeIRError, match="found a file"):
        restore_files(Restorer(identity), src, blocker / "out" / "photo.png")
    assert identity.calls == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere: permissions cannot refuse it")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(EdgeIRError, match="no write permission"):
            check_writable(folder / "sub")
    finally:
        folder.chmod(0o700)


def test_check_output_says_what_is_wrong(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    file = tmp_path / "a.onnx"
    file.write_text("x")
    with pytest.raises(EdgeIRError, match="found the folder"):
        check_output(folder)
    with pytest.raises(EdgeIRError, match="expected an output folder"):
        check_output(file, folder=True)
    with pytest.raises(EdgeIRError, match="pass --overwrite"):
        check_output(file)
    assert check_output(file, overwrite=True) == file


@pytest.mark.correct_result
def test_partials_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    final = tmp_path / "model.onnx"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    stale = tmp_path / f".model.onnx.{dead}-deadbeef.partial.onnx"
    live = tmp_path / f".model.onnx.{os.getpid()}-cafecafe.partial.onnx"
    other = tmp_path / ".other.onnx.1-deadbeef.partial.onnx"
    for path in (stale, live, other):
        path.write_text("partial")
    assert remove_stale_partials(final) == [stale]
    assert live.exists() and other.exists() and not stale.exists()


SLOW_WRITE = textwrap.dedent("""
    import signal, sys, time
    # A shell that starts a job in the background (nohup ... &) makes it ignore SIGINT, and
    # Python keeps that: restore Ctrl-C, which is what this child stands in for.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import edgeir.cli.run as command
    from edgeir.cli import main
    from edgeir.fileio import atomic_path

    def slow_write(args):
        with atomic_path(args.output) as temp:
            temp.write_bytes(b"half")
            print("writing", flush=True)
            time.sleep(60)
        return 0

    command.run = slow_write
    sys.exit(main(["run", "convir-s", "in.png", "-o", sys.argv[1]]))
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["TERM", "INT", "KILL"])
def test_a_signal_during_the_final_write_leaves_nothing(tmp_path, sig):
    """SIGTERM and SIGINT clean up on the way out; after SIGKILL nothing can, so the next
    write of the same name removes the dead process's partial file."""
    out = tmp_path / "out.png"
    child = subprocess.Popen([sys.executable, "-c", SLOW_WRITE, str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "writing"
    child.send_signal(sig)
    _, err = child.communicate(timeout=60)
    if sig == signal.SIGTERM:
        assert child.returncode == 143 and "terminated" in err
    elif sig == signal.SIGINT:
        assert child.returncode == 130
    left = list(tmp_path.iterdir())
    if sig == signal.SIGKILL:
        assert len(left) == 1 and left[0].name.startswith(".out.png.")
        with atomic_path(out) as temp:
            temp.write_bytes(b"whole")
        left = [p for p in tmp_path.iterdir() if p != out]
    assert left == []


# --- restoring in place: an output that is an input is never an "existing output" (issue 36, item 6) ----

def _photos(folder, n=3):
    folder.mkdir()
    for i in range(n):
        from edgeir.data.io import write_image

        write_image(folder / f"f{i}.png", np.full((40, 48, 3), 40 * i, np.uint8))
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("flag", ["skip_existing", "overwrite", "neither"])
@pytest.mark.parametrize("spelling", ["same", "dotdot", "symlink"])
def test_restoring_a_folder_into_itself_is_refused_before_any_work(tmp_path, identity, flag, spelling):
    """Before: ``--skip-existing`` took the 3 inputs for finished outputs, restored nothing and
    exited 0; without a flag it advised --skip-existing."""
    from edgeir.run import restore_files
    from edgeir.runtimes.restorer import Restorer

    before = _photos(tmp_path / "in")
    out = {"same": tmp_path / "in", "dotdot": tmp_path / "in" / ".." / "in", "symlink": tmp_path / "link"}[spelling]
    if spelling == "symlink":
        out.symlink_to(tmp_path / "in")
    options = {"skip_existing": {"skip_existing": True}, "overwrite": {"overwrite": True}, "neither": {}}[flag]
    with pytest.raises(EdgeIRError, match=r"expected outputs other than the inputs, found the input .*f0\.png as an "
                       r"output \((as .*f0\.png; )?3 inputs in all\): edgeir does not restore in place") as error:
        restore_files(Restorer(identity), tmp_path / "in", out, **options)
    assert "\n" not in str(error.value)
    assert identity.calls == []
    assert {p.name: p.read_bytes() for p in (tmp_path / "in").iterdir()} == before


@pytest.mark.parametrize("flag", ["--skip-existing", "--overwrite"])
def test_the_cli_refuses_in_place_before_the_model_loads(tmp_path, capsys, monkeypatch, flag):
    from edgeir import runtimes
    from edgeir.cli import main

    def no_load(*args, **kwargs):
        raise AssertionError("the model was loaded before the outputs were checked")

    monkeypatch.setattr(runtimes, "load", no_load)
    before = _photos(tmp_path / "in")
    assert main(["run", "convir-s", str(tmp_path / "in"), "-o", str(tmp_path / "in"), flag]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith(
        f"edgeir: error: expected outputs other than the inputs, found the input {tmp_path / 'in' / 'f0.png'}")
    assert "choose another output (-o) folder" in captured.err and "kept" not in captured.out
    assert {p.name: p.read_bytes() for p in (tmp_path / "in").iterdir()} == before


def test_one_input_given_as_its_own_output_is_refused(tmp_path, identity):
    from edgeir.run import restore_files
    from edgeir.runtimes.restorer import Restorer

    before = _photos(tmp_path / "in", n=1)
    src = tmp_path / "in" / "f0.png"
    for out in (src, tmp_path / "in"):  # the file itself, or its folder (same name inside)
        with pytest.raises(EdgeIRError, match=r"found the input .*f0\.png as an output: edgeir does not"):
            restore_files(Restorer(identity), src, out, skip_existing=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "in").iterdir()} == before and identity.calls == []


@pytest.mark.correct_result
def test_outputs_of_another_name_beside_the_inputs_are_written(tmp_path, identity):
    """Refusing is about the same file, not the same folder: another name, or a sub-folder, is
    restored, and the inputs stay byte for byte."""
    from edgeir.data.io import read_image
    from edgeir.run import restore_files
    from edgeir.runtimes.restorer import Restorer

    before = _photos(tmp_path / "in", n=2)
    report = restore_files(Restorer(identity), tmp_path / "in", tmp_path / "in" / "restored", skip_existing=True)
    assert sorted(p.name for p in report.written) == ["f0.png", "f1.png"] and report.skipped == []
    assert (read_image(tmp_path / "in" / "restored" / "f1.png") == 40).all()
    report = restore_files(Restorer(identity), tmp_path / "in" / "f1.png", tmp_path / "in" / "f1_restored.png")
    assert report.written == [tmp_path / "in" / "f1_restored.png"]
    assert {name: (tmp_path / "in" / name).read_bytes() for name in before} == before
