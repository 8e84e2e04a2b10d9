"""Restore an image, a folder of images or a video file with any edgeir model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeir.data.io import is_image, is_video, read_image, write_image
from edgeir.data.video import VideoReader, VideoWriter
from edgeir.errors import EdgeIRError
from edgeir.fileio import check_output
from edgeir.progress import progress_bar
from edgeir.runtimes.restorer import Restorer

UNREADABLE = "unreadable"
NOT_RESTORED = "not restored"
"""Why an input was skipped: it could not be read, or this model could not restore it (too
large to run whole, a size the model does not take)."""


class _Unreadable(EdgeIRError):
    """An input that could not be read, told apart from one that could not be restored."""


def read_input(path: Path) -> Any:
    """``read_image``, whose failure says the input is unreadable (not that restoring failed)."""
    try:
        return read_image(path)
    except EdgeIRError as exc:
        raise _Unreadable(str(exc)) from None


def skip_reason(exc: EdgeIRError) -> str:
    """What a report says of a skipped input: ``unreadable: ...`` or ``not restored: ...``."""
    return f"{UNREADABLE if isinstance(exc, _Unreadable) else NOT_RESTORED}: {exc}"


@dataclass
class RunReport:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    """Inputs skipped, with ``why: reason`` (``UNREADABLE`` or ``NOT_RESTORED``, then the error)."""
    skipped: list[Path] = field(default_factory=list)
    """Outputs that existed and were kept (``skip_existing``)."""
    frames: int = 0
    workers: dict[str, int] = field(default_factory=dict)
    """Frames each worker restored (a run on Ray)."""
    seconds: float = 0.0
    """Time spent restoring (a run on Ray: from the first item handed out)."""


def plan(source: Path, destination: Path) -> list[tuple[Path, Path]]:
    """(input, output) pairs; images of a folder keep their names."""
    if source.is_dir():
        images = sorted(p for p in source.iterdir() if p.is_file() and is_image(p))
        if not images:
            raise EdgeIRError(f"expected images ({', '.join(('.png', '.jpg', '...'))}) in {source}, found none")
        if destination.exists() and not destination.is_dir():
            raise EdgeIRError(f"expected an output folder for the folder {source}, found the file {destination}")
        return [(p, destination / p.name) for p in images]
    if not source.is_file():
        raise EdgeIRError(f"expected an image, a folder or a video, found nothing at {source}")
    if not (is_image(source) or is_video(source)):
        raise EdgeIRError(f"expected an image or a video file, found {source.name}")
    if destination.is_dir():
        destination = destination / source.name
    if is_video(source) and not is_video(destination):
        raise EdgeIRError(f"expected a video output path (.mp4, .avi, ...) for {source.name}, found {destination}")
    if is_image(source) and not is_image(destination):
        raise EdgeIRError(f"expected an image output path (.png, .jpg, ...) for {source.name}, found {destination}")
    return [(source, destination)]


def plan_all(sources: Sequence[str | Path] | str | Path, destination: str | Path) -> list[tuple[Path, Path]]:
    """``plan`` for one input or several; several go into the folder ``destination`` under
    their own names (a folder's images directly), and two may not share an output."""
    if isinstance(sources, (str, Path)):
        sources = [sources]
    if not sources:
        raise EdgeIRError("expected at least one input (an image, a folder or a video), found none")
    destination = Path(destination)
    if len(sources) == 1:
        return plan(Path(sources[0]), destination)
    if destination.exists() and not destination.is_dir():
        raise EdgeIRError(f"expected an output folder for {len(sources)} inputs, found the file {destination}")
    pairs: list[tuple[Path, Path]] = []
    for source in map(Path, sources):
        pairs += plan(source, destination if source.is_dir() else destination / source.name)
    seen: dict[Path, Path] = {}
    for src, out in pairs:
        if out in seen:
            raise EdgeIRError(f"expected inputs with distinct names, found {seen[out]} and {src} both "
                              f"writing {out}: restore them into separate folders")
        seen[out] = src
    return pairs


def _identity(path: Path) -> tuple[int, int] | None:
    """What ``os.path.samefile`` compares (device, inode), after symlinks; ``None`` if absent."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def check_not_inputs(pairs: list[tuple[Path, Path]]) -> None:
    """Refuse, before any work, outputs that are inputs under any spelling (the same path,
    ``..``, a symlink, a hard link): restoring in place would replace the user's originals,
    and taking them for finished outputs (``--skip-existing``) would restore nothing."""
    inputs = {key: src for src, _ in pairs if (key := _identity(src)) is not None}
    clashes = [(inputs[key], out) for _, out in pairs if (key := _identity(out)) in inputs]
    if not clashes:
        return
    src, out = clashes[0]
    notes = ([] if out == src else [f"as {out}"]) + ([f"{len(clashes)} inputs in all"] if len(clashes) > 1 else [])
    said = f" ({'; '.join(notes)})" if notes else ""
    raise EdgeIRError(f"expected outputs other than the inputs, found the input {src} as an output{said}: "
                      "edgeir does not restore in place, not with --overwrite or --skip-existing either; "
                      "choose another output (-o) folder or name")


def pending(pairs: list[tuple[Path, Path]], overwrite: bool = False,
            skip_existing: bool = False) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """The pairs still to restore and the existing outputs kept. Writes are atomic, so an
    output that exists is complete: skipping it is how an interrupted run resumes. An
    output that is an input is never an existing output: it is refused."""
    if overwrite and skip_existing:
        raise EdgeIRError("expected --overwrite or --skip-existing, found both: choose one")
    check_not_inputs(pairs)
    existing = [out for _, out in pairs if out.exists()]
    if existing and not (overwrite or skip_existing):
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise EdgeIRError(f"expected new output paths, found {existing[0]}{more}: pass --skip-existing "
                          "to keep them and restore the rest, or --overwrite to replace them")
    kept = existing if skip_existing else []
    keep = set(kept)
    todo = [(src, out) for src, out in pairs if out not in keep]
    for src, out in todo:  # an output that is its input under another name, a read-only folder
        check_output(out, overwrite=True, inputs=[src])
    return todo, kept


def restore_files(
    restorer: Restorer, source: Sequence[str | Path] | str | Path, destination: str | Path,
    overwrite: bool = False, skip_existing: bool = False,
) -> RunReport:
    """Unreadable inputs are reported and skipped; the run goes on."""
    pairs, kept = pending(plan_all(source, destination), overwrite, skip_existing)
    report = RunReport(skipped=kept)
    videos = [(src, out) for src, out in pairs if is_video(src)]
    for src, out in videos:
        try:
            _restore_video(restorer, src, out, report)
        except EdgeIRError as exc:  # one damaged video of several: say so, restore the rest
            if len(pairs) == 1:
                raise
            report.failed.append((src, f"{NOT_RESTORED}: {exc}"))
    images = [(src, out) for src, out in pairs if not is_video(src)]
    if not images:
        return report
    with progress_bar() as bar, _tile_progress(restorer, bar):
        task = bar.add_task("restoring", total=len(images))
        done = 0
        while done < len(images):  # a stream ends at a failed image; the next starts after it
            done += _restore_images(restorer, images[done:], report, bar, task, len(images))
    return report


@contextmanager
def _tile_progress(restorer: Restorer, bar: Any) -> Iterator[None]:
    """A second bar for the tiles of a large image (minutes each), added at its first tile."""
    tiles: list[Any] = []

    previous = restorer.on_tiles

    def on_tiles(done: int, total: int) -> None:
        if not tiles:
            tiles.append(bar.add_task("  tiles of the image", total=total))
        bar.update(tiles[0], completed=done, total=total)
        if previous is not None:  # the caller's own
            previous(done, total)

    restorer.on_tiles = on_tiles
    try:
        yield
    finally:
        restorer.on_tiles = previous


def _read(images: list[tuple[Path, Path]]) -> Iterator[Any]:
    for src, _ in images:
        yield read_input(src)


def _restore_images(restorer: Restorer, images: list[tuple[Path, Path]], report: RunReport,
                    bar: Any, task: Any, total: int) -> int:
    """Read, restore and write ``images`` in a pipeline (reading in its first thread, writing
    here), one at a time as ``restore`` does each, until one cannot be read or restored:
    that one is reported. Returns how many images were handled. The bar counts restored
    images: a skipped one leaves its total and is counted in its title."""
    handled = 0

    def skip(src: Path, exc: EdgeIRError) -> None:
        report.failed.append((src, skip_reason(exc)))
        skipped = sum(1 for path, _ in report.failed if not is_video(path))
        bar.update(task, description=f"restoring ({skipped} skipped)", total=total - skipped)

    with closing(restorer.stream(_read(images), group=False)) as restored:
        try:
            for frame in restored:
                src, out = images[handled]
                handled += 1
                try:
                    write_image(out, frame)
                except EdgeIRError as exc:
                    skip(src, exc)
                else:
                    report.written.append(out)
                    report.frames += 1
                    bar.advance(task)
        except EdgeIRError as exc:  # unreadable, or a frame this model cannot take
            skip(images[handled][0], exc)
            handled += 1
    return handled


def _restore_video(restorer: Restorer, src: Path, out: Path, report: RunReport) -> None:
    with VideoReader(src) as reader, VideoWriter(out, reader.fps) as writer, progress_bar() as bar:
        task = bar.add_task(f"restoring {src.name}", total=reader.frame_count or None)
        done = 0
        # Frames are decoded in the stream's first thread and written here while the next run.
        with closing(restorer.stream(reader)) as restored:
            for frame in restored:
                writer.write(frame)
                bar.advance(task)
                done += 1
        reader.check_complete(done, out)
    report.frames += done
    report.written.append(out)
