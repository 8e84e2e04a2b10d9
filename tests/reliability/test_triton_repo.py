"""``edgeir triton-repo`` in a repository that holds more than edgeir wrote: ``--overwrite``
replaces version ``1/`` and a ``config.pbtxt`` that is as edgeir wrote it, and nothing else;
an edited config or a stranger in ``1/`` is refused in one line, with every file of the
user's left byte for byte; names are refused saying which rule they break (issue 36,
items 5 and 11)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from edgeir import EdgeIRError

pytest.importorskip("tritonclient.grpc", reason="the triton extra is not installed")
from edgeir.distributed.triton import write_triton_repo  # noqa: E402

pytestmark = pytest.mark.clear_error


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder``: a file's bytes, ``None`` for a folder."""
    return {str(p.relative_to(folder)): None if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))}


def instances(folder: Path) -> int:
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    config = text_format.Parse((folder / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
    return config.instance_group[0].count


@pytest.fixture
def repo(exported_static, tmp_path):
    """A model folder edgeir wrote, then given a version 2 and notes by its user."""
    repo = tmp_path / "repo"
    [folder] = write_triton_repo([exported_static.artifact], repo, name="m")
    (folder / "2").mkdir()
    (folder / "2" / "model.onnx").write_bytes(b"the user's own version 2\x00\xff")
    (folder / "NOTES.md").write_text("deployed 2024-05-01; do not delete\n")
    return folder


@pytest.mark.correct_result
def test_overwrite_replaces_only_what_edgeir_wrote(exported_static, repo, caplog):
    """Before: version 2/ and NOTES.md were deleted."""
    theirs = {k: v for k, v in snapshot(repo).items() if k.startswith("2") or k == "NOTES.md"}
    with caplog.at_level(logging.WARNING, logger="edgeir"):
        [folder] = write_triton_repo([exported_static.artifact], repo.parent, name="m", instances=3,
                                     overwrite=True)
    assert folder == repo and instances(repo) == 3
    after = snapshot(repo)
    assert {k: after.get(k) for k in theirs} == theirs  # byte for byte
    assert (repo / "1" / "model.onnx").read_bytes() == exported_static.artifact.read_bytes()
    assert sorted(after) == ["1", "1/model.onnx", "2", "2/model.onnx", "NOTES.md", "config.pbtxt"]  # no partial
    assert "keeps version(s) 2 that edgeir did not write; Triton serves the highest version" in caplog.text


@pytest.mark.parametrize("edit", ["changed", "no_record", "not_utf8"])
def test_an_edited_config_is_refused_and_kept(exported_static, repo, edit):
    """Before: the edited config.pbtxt was replaced without a word."""
    config = repo / "config.pbtxt"
    text = config.read_text()
    if edit == "changed":
        config.write_text(text.replace("count: 1", "count: 4"))
        why = r"found it edited \(its content's SHA-256 differs"
    elif edit == "no_record":  # written by hand, another tool, or edgeir before the record
        config.write_text(text.split("\n", 1)[1])
        why = "found no '# edgeir-sha256' first line"
    else:
        config.write_bytes(text.encode() + b"# \xff\n")
        why = "found text that is not UTF-8"
    before = snapshot(repo)
    with pytest.raises(EdgeIRError, match=f"expected {config} as edgeir wrote it, {why}") as error:
        write_triton_repo([exported_static.artifact], repo.parent, name="m", instances=3, overwrite=True)
    assert "\n" not in str(error.value) and "move it away" in str(error.value)
    assert snapshot(repo) == before  # nothing written, nothing removed


@pytest.mark.correct_result
def test_an_edited_config_moved_away_stays_beside_the_new_one(exported_static, repo):
    config = repo / "config.pbtxt"
    config.write_text(config.read_text().replace("count: 1", "count: 4"))
    config.rename(repo / "config.pbtxt.mine")
    mine = (repo / "config.pbtxt.mine").read_bytes()
    write_triton_repo([exported_static.artifact], repo.parent, name="m", instances=2, overwrite=True)
    assert (repo / "config.pbtxt.mine").is_file() and (repo / "config.pbtxt.mine").read_bytes() == mine
    assert instances(repo) == 2


@pytest.mark.parametrize("stranger", ["file", "folder"])
def test_a_file_edgeir_does_not_write_in_version_1_is_refused(exported_static, repo, stranger):
    if stranger == "file":
        (repo / "1" / "labels.txt").write_text("the user's labels")
    else:
        (repo / "1" / "extra").mkdir()
    before = snapshot(repo)
    with pytest.raises(EdgeIRError, match=f"expected only model files edgeir writes in {repo / '1'}, found "
                       f"{'labels.txt' if stranger == 'file' else 'extra'}: --overwrite replaces version 1/ whole"):
        write_triton_repo([exported_static.artifact], repo.parent, name="m", overwrite=True)
    assert snapshot(repo) == before


def test_without_overwrite_the_folder_is_refused_saying_what_overwrite_does(exported_static, repo):
    before = snapshot(repo)
    with pytest.raises(EdgeIRError, match=r"found an existing .*m: pass --overwrite to replace its config.pbtxt "
                       r"and version 1/ \(other versions and files stay\)"):
        write_triton_repo([exported_static.artifact], repo.parent, name="m")
    assert snapshot(repo) == before


@pytest.mark.correct_result
def test_a_failed_overwrite_leaves_the_old_model_whole(exported_static, repo, monkeypatch):
    before = snapshot(repo)

    def disk_full(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(shutil, "copyfile", disk_full)
    with pytest.raises(OSError, match="disk full"):
        write_triton_repo([exported_static.artifact], repo.parent, name="m", instances=3, overwrite=True)
    assert snapshot(repo) == before  # the old 1/ and config, and no partial left


def test_the_cli_refuses_an_edited_config_in_one_line(exported_static, repo, capsys):
    from edgeir.cli import main

    config = repo / "config.pbtxt"
    config.write_text(config.read_text().replace("count: 1", "count: 4"))
    before = snapshot(repo)
    code = main(["triton-repo", str(exported_static.artifact), "--out", str(repo.parent), "--name", "m",
                 "--overwrite"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and err.startswith(f"edgeir: error: expected {config} as edgeir")
    assert snapshot(repo) == before


# --- names (item 11) ----------------------------------------------------------------------------

@pytest.mark.parametrize("name, message", [
    ("a" * 300, r"expected a model name of at most 128 characters in --name, found 300 \('aaaa"),
    ("a" * 129, "at most 128 characters in --name, found 129"),
    ("", "expected a model name in --name, found an empty one"),
    ("deblur 256", r"of letters, digits, '_', '-' and '.' in --name, found ' ' in 'deblur 256'"),
    ("../escape", r"found '/' in '../escape'"),
    ("modèle", r"found 'è' in 'modèle'"),
    (".hidden", r"starting with a letter or digit in --name, found '.hidden'"),
    ("a..b", r"without '\.\.' in --name, found 'a\.\.b'"),
])
def test_a_name_is_refused_saying_which_rule_it_breaks(exported_static, tmp_path, name, message):
    """Before: every one said "letters, digits, '_', '-' and '.' (starting with a letter or
    digit)", a 300-character name included, whose only fault was its length."""
    with pytest.raises(EdgeIRError, match=message) as error:
        write_triton_repo([exported_static.artifact], tmp_path / "repo", name=name)
    assert "\n" not in str(error.value) and len(str(error.value)) < 200
    assert not (tmp_path / "repo").exists()


@pytest.mark.correct_result
def test_a_name_of_128_characters_is_written(exported_static, tmp_path):
    [folder] = write_triton_repo([exported_static.artifact], tmp_path / "repo", name="m" * 128)
    assert folder.name == "m" * 128 and (folder / "1" / "model.onnx").is_file()


def test_a_long_file_name_is_refused_pointing_to_name(exported_static, tmp_path):
    """Before: a 235-character file stem became the folder's name, and its temporary name
    (``.NAME.PID-RANDOM.partial``) went past the file system's 255 bytes: an OSError
    traceback ("File name too long")."""
    from edgeir.manifest import manifest_path

    artifact = tmp_path / ("x" * 235 + ".onnx")
    shutil.copyfile(exported_static.artifact, artifact)
    shutil.copyfile(manifest_path(exported_static.artifact), manifest_path(artifact))
    with pytest.raises(EdgeIRError, match=r"at most 128 characters in the name taken from the file 'x{32}'\.\.\. "
                       r"\(pass --name\), found 235"):
        write_triton_repo([artifact], tmp_path / "repo")
    assert not (tmp_path / "repo").exists()


def test_the_cli_says_the_name_is_too_long(exported_static, tmp_path, capsys):
    from edgeir.cli import main

    code = main(["triton-repo", str(exported_static.artifact), "--out", str(tmp_path / "repo"), "--name", "n" * 300])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "expected a model name of at most 128 characters in --name, found 300" in err
