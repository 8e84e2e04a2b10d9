"""edgeir's files, written so that nothing half-written is ever left behind and read back
so that nothing in them is trusted: outputs checked before any work, atomic writes, JSON
that fails in one line, and paths read from a file kept inside its folder."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgeir.errors import EdgeIRError

PARTIAL = ".partial"
"""Temporary names are ``.NAME.PID-RANDOM.partial.SUFFIX``: hidden, and owned by a process
that a later write to the same name can tell is gone (after a SIGKILL nothing else can
clean up), so it removes them."""


def partial_path(final: Path) -> Path:
    return final.with_name(f".{final.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}{PARTIAL}{final.suffix}")


def remove_stale_partials(final: Path) -> list[Path]:
    """Remove partial writes of ``final`` left by processes that no longer run (killed
    before they could clean up); a live writer's partial is left alone."""
    removed = []
    prefix = f".{final.name}."
    try:
        siblings = list(final.parent.iterdir())
    except OSError:
        return removed
    for sibling in siblings:
        name = sibling.name
        if not name.startswith(prefix) or PARTIAL not in name[len(prefix):]:
            continue
        owner = name[len(prefix):].split("-", 1)[0]
        if owner.isdigit() and not _process_alive(int(owner)):
            remove(sibling)
            removed.append(sibling)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


@contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it into place only if the block
    finishes. Any exception, Ctrl-C and SIGTERM included (the CLI turns SIGTERM into one),
    removes what was written. An existing folder at ``final`` is replaced only by a
    folder (a re-exported ``.mlpackage``), never by a file: a user's folder that happens
    to carry the artifact's name is not edgeir's to delete."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(final)
    temp = partial_path(final)
    try:
        yield temp
        if not temp.exists():
            raise FileNotFoundError(f"nothing was written to {temp}")
        if final.is_dir() and not final.is_symlink():
            if not temp.is_dir():
                raise EdgeIRError(f"expected a file path for {final}, found a folder there: edgeir "
                                  "does not replace folders with files; choose another path")
            shutil.rmtree(final)
        os.replace(temp, final)
    except BaseException:
        remove(temp)
        raise


def check_output(path: str | Path, overwrite: bool = False, inputs: Iterable[str | Path] = (),
                 folder: bool = False) -> Path:
    """Refuse, before any work, an output that would lose data or fail at the end: an
    existing path without ``overwrite``, a folder where a file goes (or the reverse), an
    output that is one of the ``inputs`` under another name (symlinks, ``..``, hard
    links; refused even with ``overwrite``), or a folder that cannot be written."""
    path = Path(path)
    for source in inputs:
        if path.exists() and Path(source).exists() and os.path.samefile(path, source):
            raise EdgeIRError(f"expected an output other than the input, found {path} is {source}: "
                              "choose another output path")
    if path.exists() or path.is_symlink():
        if path.is_dir() and not folder:
            raise EdgeIRError(f"expected a file path for the output, found the folder {path}: "
                              "choose another path")
        if folder and not path.is_dir():
            raise EdgeIRError(f"expected an output folder, found the file {path}")
        if not overwrite:
            raise EdgeIRError(f"expected a new output path, found an existing {path}: pass "
                              "--overwrite to replace it")
    check_writable(path.parent if not folder or not path.is_dir() else path)
    return path


def check_writable(folder: str | Path) -> None:
    """The folder, or the nearest existing folder above it (which would be created), can
    be written to: a read-only or missing place fails now, not after minutes of work."""
    folder = Path(folder).absolute()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise EdgeIRError(f"expected a folder to write into at {existing}, found a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise EdgeIRError(f"expected a writable folder at {existing}, found no write permission")


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def sha256_of(path: str | Path) -> str:
    """SHA-256 of a file, or of a directory's files (relative names and contents, sorted)."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def read_json_object(path: str | Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path`` (a manifest, a bundle index, a report), or one line saying
    what was expected there and what was found: a hand-edited or damaged file (bad UTF-8,
    bad JSON, brackets nested past Python's recursion limit) is a user's error, never a
    traceback."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise EdgeIRError(f"expected {what} at {path}, found nothing") from None
    except RecursionError:
        raise EdgeIRError(f"expected JSON in {what} {path}, found values nested too deeply to read") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError among them
        raise EdgeIRError(f"expected JSON in {what} {path}: {exc}") from None
    except OSError as exc:
        raise EdgeIRError(f"expected a readable file with {what} at {path}, found {exc.strerror or exc}") from None
    if not isinstance(data, dict):
        raise EdgeIRError(f"expected a JSON object in {what} {path}, found a {type(data).__name__}")
    return data


def inside(root: str | Path, relative: Any, what: str) -> Path:
    """``root / relative`` for a path read from a file (a bundle's index, a report, a cache
    record), when it stays inside ``root`` after every symlink is followed; else one line
    naming the entry. Checked before the file is opened or hashed, so that a hostile index
    can neither read a file outside its folder nor learn its hash."""
    if not isinstance(relative, str) or not relative or "\0" in relative:
        raise EdgeIRError(f"expected {what} to be a path inside {root}, found {relative!r}")
    path = Path(relative)
    if path.is_absolute() or ".." in path.parts:
        raise EdgeIRError(f"expected {what} to be a path inside {root}, found {relative!r} (absolute paths "
                          "and .. are refused)")
    base = Path(root).resolve()
    try:
        resolved = (base / path).resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop
        raise EdgeIRError(f"expected {what} {relative!r} to resolve inside {root}, found {exc}") from None
    if not resolved.is_relative_to(base):
        raise EdgeIRError(f"expected {what} {relative!r} to stay inside {root}, found a symlink to {resolved}")
    return Path(root) / path
