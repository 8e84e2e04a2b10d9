"""Restore an image, a folder of images or a video file with any edgeir model."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from edgeir.data.io import (
    VideoReader,
    VideoWriter,
    is_image,
    is_video,
    read_image,
    write_image,
)
from edgeir.errors import EdgeIRError
from edgeir.fileio import check_output
from edgeir.progress import progress_bar
from edgeir.runtimes.restorer import Restorer


@dataclass
class RunReport:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    frames: int = 0


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


def restore_files(
    restorer: Restorer, source: str | Path, destination: str | Path, overwrite: bool = False
) -> RunReport:
    """Unreadable inputs are reported and skipped; the run goes on."""
    pairs = plan(Path(source), Path(destination))
    existing = [out for _, out in pairs if out.exists()]
    if existing and not overwrite:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise EdgeIRError(f"expected new output paths, found {existing[0]}{more}: pass --overwrite to replace")
    for src, out in pairs:  # an output that is its input under another name, a read-only folder
        check_output(out, overwrite=True, inputs=[src])
    report = RunReport()
    if len(pairs) == 1 and is_video(pairs[0][0]):
        _restore_video(restorer, *pairs[0], report)
        return report
    with progress_bar() as bar:
        task = bar.add_task("restoring", total=len(pairs))
        for src, out in pairs:
            try:
                write_image(out, restorer.restore(read_image(src)))
            except EdgeIRError as exc:  # unreadable, or a frame this model cannot take
                report.failed.append((src, str(exc)))
                bar.console.print(f"[yellow]skipped[/] {src}: {exc}")
            else:
                report.written.append(out)
                report.frames += 1
            bar.advance(task)
    return report


def _restore_video(restorer: Restorer, src: Path, out: Path, report: RunReport) -> None:
    with VideoReader(src) as reader, VideoWriter(out, reader.fps) as writer, progress_bar() as bar:
        task = bar.add_task(f"restoring {src.name}", total=reader.frame_count or None)
        batch: list = []
        for frame in reader:
            batch.append(frame)
            if len(batch) == restorer.batch:
                for restored in restorer.restore_batch(batch):
                    writer.write(restored)
                bar.advance(task, len(batch))
                report.frames += len(batch)
                batch = []
        if batch:
            for restored in restorer.restore_batch(batch):
                writer.write(restored)
            bar.advance(task, len(batch))
            report.frames += len(batch)
        if report.frames == 0:
            raise EdgeIRError(f"expected frames in {src}, found none")
        if report.frames < reader.frame_count:
            # Raised inside the writer's block, so the shortened video is not kept.
            raise EdgeIRError(
                f"expected {reader.frame_count} frames in {src} (its container says so), could read "
                f"only {report.frames}: the video is damaged after frame {report.frames}; nothing was "
                f"written to {out}")
    report.written.append(out)
