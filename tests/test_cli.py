import json
import subprocess
import sys

import pytest

from edgeir import EdgeIRError, cli


def test_help_lists_only_commands_that_exist(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "info" in out
    assert "    build-engine" in out and "    bench" in out
    parser = cli.build_parser()
    commands = next(a for a in parser._actions if a.dest == "command")
    assert set(commands.choices) == {"info", "export", "build-engine", "calib", "run", "serve", "bench", "pack", "train",
                                     "triton-repo", "compare"}


def test_help_does_not_import_torch():
    code = "import sys, edgeir.cli; edgeir.cli.build_parser(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_info_json(capsys):
    assert cli.main(["info", "--variant", "s", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"] == 5_530_505
    assert info["gmacs"] == pytest.approx(38.68, abs=0.01)
    assert info["size_rule"] == {"multiple": 32, "minimum": 256}
    assert info["deployed_output"] == "output"


def test_info_text_for_an_illegal_size_says_how_it_runs(capsys):
    assert cli.main(["info", "--variant", "b", "--task", "derain", "--size", "720x1280"]) == 0
    out = capsys.readouterr().out
    assert "ConvIR-B (derain)" in out
    assert "8,630,665" in out
    assert "run padded to 736x1280" in out
    assert "at least 128" in out


@pytest.mark.parametrize("argv", [["info", "--size", "big"], ["info", "--variant", "xl"], ["nope"]])
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_user_error_is_one_line_without_traceback(monkeypatch, capsys):
    def fails(args):
        raise EdgeIRError("expected X, found Y")

    monkeypatch.setattr(cli.info, "run", fails)
    assert cli.main(["info"]) == 1
    err = capsys.readouterr().err
    assert err == "edgeir: error: expected X, found Y\n"


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "edgeir.cli", "info", "--json"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["model"] == "ConvIR-S (motion-deblur)"


def test_a_host_command_in_a_device_install_names_the_extra(capsys, monkeypatch):
    """A device install (numpy and a runtime) that runs edgeir export gets one line, not a traceback."""
    from edgeir.cli import export as export_command

    def needs_torch(args):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(export_command, "run", needs_torch)
    assert cli.main(["export", "--target", "onnx"]) == 1
    err = capsys.readouterr().err
    assert err.startswith('edgeir: error: edgeir export needs torch, which this install lacks: pip install "edgeir[onnx]"')
    assert err.count("\n") == 1
