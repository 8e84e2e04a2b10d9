"""One name for one thing across every command's --help, and the old spellings still work
with a warning that names the new one."""

import argparse

import pytest

from edgeir.cli import build_parser
from edgeir.cli.common import Renamed

CANONICAL = {
    "output": ["-o", "--out"],
    "one size": ["--size"],
    "a list of sizes": ["--sizes"],
    "calibration frame count": ["--calib-frames"],
    "channel order": ["--color"],
    "tiles": ["--tile"],
    "targets of a run": ["--targets"],
}
"""Each thing, as every command that takes it names it."""
OLD = {"--output", "--shape", "--shapes", "--crop", "--bgr", "-n", "--count", "--target"}
"""Old spellings: hidden from --help, still accepted (``--target`` stays export's: one target;
``--count`` stays compare's: the frames it compares)."""
KEPT = {("export", "--target"), ("compare", "--count")}


def _commands():
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices


def _thing(command, action):
    flags = set(action.option_strings)
    if action.dest in ("output", "out") or "-o" in flags:
        return "output"
    if flags & {"--size", "--shape", "--crop"} or (command == "export" and action.dest == "shape"):
        return "one size"
    if action.dest == "shapes":
        return "a list of sizes"
    if action.dest == "calib_frames" or (command == "calib" and action.dest == "count"):
        return "calibration frame count"
    if action.dest == "color" or "--bgr" in flags:
        return "channel order"
    if action.dest == "tile":
        return "tiles"
    if action.dest == "targets" or (command != "export" and action.dest == "target"):
        return "targets of a run"
    return None


def test_every_command_lists_the_same_names_for_the_same_things():
    seen = {}
    for command, parser in _commands().items():
        for action in parser._actions:
            thing = _thing(command, action)
            if action.help == argparse.SUPPRESS:
                assert isinstance(action, Renamed) and set(action.option_strings) <= OLD, (command, action.option_strings)
                continue
            old = {flag for flag in set(action.option_strings) & OLD if (command, flag) not in KEPT}
            assert not old, (command, action.option_strings)
            if thing is not None:
                assert action.option_strings == CANONICAL[thing], (command, thing, action.option_strings)
                seen.setdefault(thing, set()).add(command)
    assert seen["output"] == {"export", "build-engine", "calib", "run", "bench", "pack", "train", "triton-repo"}
    assert seen["one size"] >= {"info", "export", "build-engine", "calib", "bench", "compare", "pack", "train"}
    assert seen["channel order"] == {"calib", "run", "serve"} and seen["tiles"] == {"run", "serve", "bench", "pack"}


@pytest.mark.parametrize(("old", "new"), [
    (["export", "--target", "onnx", "--shape", "256x256", "--output", "m.onnx"],
     ["export", "--target", "onnx", "--size", "256x256", "-o", "m.onnx"]),
    (["export", "--target", "coreml", "--shapes", "256x256,512x512"],
     ["export", "--target", "coreml", "--sizes", "256x256,512x512"]),
    (["build-engine", "g.trt.onnx", "--shape", "256x256"], ["build-engine", "g.trt.onnx", "--size", "256x256"]),
    (["calib", "--synthetic", "-n", "8", "--bgr", "--output", "c.npz"],
     ["calib", "--synthetic", "--calib-frames", "8", "--color", "bgr", "--out", "c.npz"]),
    (["calib", "--synthetic", "--count", "8", "-o", "c.npz"], ["calib", "--synthetic", "--calib-frames", "8", "-o", "c.npz"]),
    (["run", "m.onnx", "a.png", "--output", "b.png", "--bgr"], ["run", "m.onnx", "a.png", "-o", "b.png", "--color", "bgr"]),
    (["serve", "m.onnx", "--bgr"], ["serve", "m.onnx", "--color", "bgr"]),
    (["bench", "--target", "onnx", "-o", "b"], ["bench", "--targets", "onnx", "--out", "b"]),
    (["train", "--crop", "256", "-o", "c.pkl"], ["train", "--size", "256", "--out", "c.pkl"]),
])
def test_an_old_spelling_still_works_and_names_the_new_one(old, new, capsys):
    parser = build_parser()
    assert vars(parser.parse_args(old)) == vars(parser.parse_args(new))
    warnings = capsys.readouterr().err.splitlines()
    assert warnings and all(w.startswith("edgeir: warning: ") and " is now " in w for w in warnings)


def test_every_command_renders_its_help_with_the_hidden_old_names(capsys):
    for command in _commands():
        with pytest.raises(SystemExit) as done:
            build_parser().parse_args([command, "--help"])
        assert done.value.code == 0
        text = capsys.readouterr().out
        assert not {"--shape ", "--shapes ", "--output ", "--crop ", "--bgr "} & {w + " " for w in text.split()}
