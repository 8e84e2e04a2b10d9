"""Model folders of a Triton repository, written so that nothing of the user's is lost.

edgeir owns two things in ``REPO/NAME``: ``config.pbtxt`` and the version folder ``1/``
with its model files. ``--overwrite`` replaces exactly those. Other versions (``2/``,
``3/``), notes and any other file stay. A ``config.pbtxt`` is replaced only while it is as
edgeir wrote it: its first line records the SHA-256 of the rest, so an edit by hand (a tuned
instance count, a version policy) is seen and the run refuses, naming the file, rather
than losing the edit. Refusing needs no new flag and loses nothing: moving the edited file
away is the user's one-line way on. A file in ``1/`` that edgeir does not write is refused
the same way, as ``1/`` is replaced whole.

A new model folder is assembled under a temporary name and renamed into place, so Triton
never sees half of it; in an existing one the new ``1/`` and the new config are each
assembled in full and renamed into place one after the other.
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
from collections.abc import Mapping
from pathlib import Path

from edgeir.errors import EdgeIRError
from edgeir.fileio import atomic_path, check_writable

log = logging.getLogger("edgeir")

VERSION = "1"
"""The one model version written: Triton serves the highest numbered folder."""

CONFIG = "config.pbtxt"
RECORD = "# edgeir-sha256 "
"""First line of every config edgeir writes: the SHA-256 of the lines below it."""

MODEL_FILES = re.compile(r"model\.(onnx|plan|xml|bin)|model_\d+\.\d+\.plan")
"""The files edgeir writes in a version folder (``Model.files``); anything else there is the user's."""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stamp(text: str) -> str:
    """``text`` under a first line that records its SHA-256, so a later run can tell an
    unchanged config from one edited by hand."""
    return (f"{RECORD}{_digest(text)} (of the lines below: edgeir triton-repo --overwrite replaces this "
            f"file only while they are unchanged)\n{text}")


def edited(config: Path) -> str | None:
    """Why the config at ``config`` is not edgeir's to replace (``None``: it is, unchanged)."""
    try:
        first, _, rest = config.read_bytes().decode("utf-8").partition("\n")
    except UnicodeDecodeError:
        return "text that is not UTF-8"
    if not first.startswith(RECORD):
        return f"no '{RECORD.strip()}' first line (written by hand, by another tool or by an older edgeir)"
    if first[len(RECORD):].split(" ", 1)[0] != _digest(rest):
        return "it edited (its content's SHA-256 differs from the one its first line records)"
    return None


def check_model_folder(folder: Path, overwrite: bool) -> None:
    """Refuse, before anything is written, a model folder whose edgeir files cannot be
    replaced without losing something of the user's: each refusal names the file and the
    way on. A new folder needs only a writable place."""
    if not (folder.exists() or folder.is_symlink()):
        check_writable(folder.parent)
        return
    if not folder.is_dir():
        raise EdgeIRError(f"expected a model folder at {folder}, found a {'link' if folder.is_symlink() else 'file'}")
    if not overwrite:
        raise EdgeIRError(f"expected a new model folder, found an existing {folder}: pass --overwrite to replace "
                          f"its {CONFIG} and version {VERSION}/ (other versions and files stay)")
    config = folder / CONFIG
    if config.is_symlink() or config.exists():
        if config.is_symlink() or not config.is_file():
            raise EdgeIRError(f"expected {config} to be a file edgeir wrote, found a "
                              f"{'link' if config.is_symlink() else 'folder'}: move it away and run again")
        why = edited(config)
        if why is not None:
            raise EdgeIRError(f"expected {config} as edgeir wrote it, found {why}: move it away (e.g. to "
                              f"{CONFIG}.mine) to have a new one written; --overwrite replaces only edgeir's files")
    _check_version_folder(folder / VERSION)
    check_writable(folder)


def _check_version_folder(version: Path) -> None:
    """``1/`` holds only model files edgeir writes, as it is replaced whole."""
    if not (version.exists() or version.is_symlink()):
        return
    if version.is_symlink() or not version.is_dir():
        raise EdgeIRError(f"expected the version folder {version} that edgeir writes, found a "
                          f"{'link' if version.is_symlink() else 'file'}: move it away and run again")
    for entry in sorted(version.iterdir()):
        if not (MODEL_FILES.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink()):
            raise EdgeIRError(f"expected only model files edgeir writes in {version}, found {entry.name}: "
                              f"--overwrite replaces version {VERSION}/ whole; move it away, or write the "
                              "model under another --name")


def write_model_folder(folder: Path, files: Mapping[str, Path], config_text: str) -> None:
    """``folder/config.pbtxt`` (stamped) and ``folder/1/`` with byte copies of ``files``.
    Checked first by ``check_model_folder``."""
    text = stamp(config_text)
    if not folder.exists():
        with atomic_path(folder) as temp:
            _write_version(temp / VERSION, files)
            (temp / CONFIG).write_bytes(text.encode("utf-8"))
        return
    # An existing folder keeps what is not edgeir's: the new config and version are each
    # assembled in full, then renamed into place (the version first, the config at once after).
    with atomic_path(folder / CONFIG) as config:
        config.write_bytes(text.encode("utf-8"))
        with atomic_path(folder / VERSION) as version:
            _write_version(version, files)


def _write_version(version: Path, files: Mapping[str, Path]) -> None:
    version.mkdir(parents=True)
    for file_name, source in files.items():
        shutil.copyfile(source, version / file_name)  # byte for byte: a plan is the engine file


def note_other_versions(folder: Path) -> None:
    """Triton serves the highest version by default: a user's ``2/`` kept beside the new
    ``1/`` is what clients get, unless the config says otherwise."""
    higher = sorted(int(p.name) for p in folder.iterdir()
                    if p.is_dir() and re.fullmatch(r"[0-9]+", p.name) and int(p.name) > int(VERSION))
    if higher:
        log.warning("%s keeps version(s) %s that edgeir did not write; Triton serves the highest version by default, "
                    "not the version %s just written (add a version_policy to %s or move them away)", folder,
                    ", ".join(map(str, higher)), VERSION, CONFIG)
