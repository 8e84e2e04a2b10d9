"""Writing artifacts so that nothing half-written is ever left behind."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from edgeir.errors import EdgeIRError


@contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it into place only if the block
    finishes. Any exception, Ctrl-C included, removes what was written."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.partial{final.suffix}")
    try:
        yield temp
        if not temp.exists():
            raise FileNotFoundError(f"nothing was written to {temp}")
        if final.is_dir() and not final.is_symlink():
            shutil.rmtree(final)
        os.replace(temp, final)
    except BaseException:
        remove(temp)
        raise


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
    what was expected there and what was found."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise EdgeIRError(f"expected {what} at {path}, found nothing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EdgeIRError(f"expected JSON in {what} {path}: {exc}") from None
    if not isinstance(data, dict):
        raise EdgeIRError(f"expected a JSON object in {what} {path}, found a {type(data).__name__}")
    return data
