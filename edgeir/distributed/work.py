"""What a distributed run has to do, as plain rows: an image, or a range of a video's
frames. Planned on the driver, done by any worker, recognisable when already done.

A video is cut into ranges restored in parallel; each range is written (atomically) as a
``.npy`` part in a hidden folder beside the output, and the driver encodes the parts in
order with the same writer ``edgeir run`` uses, so the result equals a serial run frame for
frame. The folder records what its parts were made from; parts made from another source or
with other settings are discarded, parts that match are kept, which is how a rerun resumes.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.data.io import is_video
from edgeir.data.video import VideoReader, VideoWriter
from edgeir.errors import EdgeIRError
from edgeir.fileio import atomic_path
from edgeir.run import UNREADABLE

PARTS_SUFFIX = ".edgeir-parts"
RECIPE = "recipe.json"


@dataclass(frozen=True)
class WorkItem:
    """One unit of work. ``output`` is the image to write, or the part file of a range
    ``[start, stop)`` of a video (``stop`` -1: to the end, for a video that does not say
    how many frames it holds)."""

    source: str
    output: str
    start: int = 0
    stop: int = 0
    video: bool = False

    def row(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> WorkItem:
        return cls(str(row["source"]), str(row["output"]), int(row["start"]), int(row["stop"]),
                   bool(row["video"]))

    @property
    def frames(self) -> int | None:
        return self.stop - self.start if self.video and self.stop >= 0 else (None if self.video else 1)


@dataclass
class VideoJob:
    """A video whose parts are restored by workers and joined by the driver."""

    source: Path
    output: Path
    parts: Path
    fps: float
    frame_count: int
    ranges: list[tuple[int, int]]

    def part_path(self, start: int, stop: int) -> Path:
        return self.parts / f"{start:09d}-{stop:09d}.npy"

    def items(self) -> list[WorkItem]:
        """The ranges whose parts are not written yet."""
        return [WorkItem(str(self.source), str(self.part_path(a, b)), a, b, video=True)
                for a, b in self.ranges if not self.part_path(a, b).is_file()]


def parts_folder(output: Path) -> Path:
    return output.with_name(f".{output.name}{PARTS_SUFFIX}")


def frame_ranges(count: int, per_part: int, batch: int) -> list[tuple[int, int]]:
    """Ranges of ``per_part`` frames rounded up to a multiple of ``batch``, so that every
    range starts where a serial run starts a batch: frames meet the network in the same
    groups, and the results are the same to the bit."""
    if count <= 0:
        return [(0, -1)]
    step = max(batch, -(-per_part // batch) * batch)
    return [(start, min(start + step, count)) for start in range(0, count, step)]


def plan_video(source: Path, output: Path, per_part: int, batch: int, settings: dict[str, Any]) -> VideoJob:
    """The job for one video, keeping the parts of an earlier run made from the same
    source with the same ``settings`` (model, options), discarding any others."""
    with VideoReader(source) as reader:
        fps, count = reader.fps, reader.frame_count
    stat = source.stat()
    recipe = {"source": str(source.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
              "frame_count": count, "per_part": per_part, **settings}
    folder = parts_folder(output)
    recorded = folder / RECIPE
    if folder.is_dir():
        try:
            same = json.loads(recorded.read_text()) == json.loads(json.dumps(recipe))
        except (OSError, json.JSONDecodeError):
            same = False
        if not same:
            shutil.rmtree(folder)
    if not folder.is_dir():
        folder.mkdir(parents=True)
        with atomic_path(recorded) as temp:
            temp.write_text(json.dumps(recipe, indent=2, sort_keys=True))
    return VideoJob(source, output, folder, fps, count, frame_ranges(count, per_part, batch))


def plan_items(pairs: list[tuple[Path, Path]], per_part: int, batch: int, settings: dict[str, Any],
               ) -> tuple[list[WorkItem], list[VideoJob], list[tuple[Path, str]]]:
    """The items, the videos to join afterwards, and the videos that cannot be opened
    (reported and skipped, as ``edgeir run`` does with unreadable files)."""
    items: list[WorkItem] = []
    jobs: list[VideoJob] = []
    failed: list[tuple[Path, str]] = []
    for source, output in pairs:
        if not is_video(source):
            items.append(WorkItem(str(source), str(output)))
            continue
        try:
            job = plan_video(source, output, per_part, batch, settings)
        except EdgeIRError as exc:  # a video that cannot be opened
            failed.append((source, f"{UNREADABLE}: {exc}"))
            continue
        jobs.append(job)
        items += job.items()
    return items, jobs, failed


def write_part(path: Path, frames: list[np.ndarray]) -> None:
    """Frames of a range as one ``.npy``, atomically: a part that exists is complete."""
    with atomic_path(path) as temp, open(temp, "wb") as handle:
        np.save(handle, np.stack(frames))


def join_parts(job: VideoJob) -> int:
    """Encode the parts in order into the output (atomically) and remove them; returns
    the number of frames. Every part must be there: the caller checks."""
    written = 0
    with VideoWriter(job.output, job.fps) as writer:
        for start, stop in job.ranges:
            frames = np.load(job.part_path(start, stop), mmap_mode="r")
            for frame in frames:
                writer.write(np.ascontiguousarray(frame))
            written += len(frames)
        if job.frame_count > 0 and written != job.frame_count:
            raise EdgeIRError(f"expected {job.frame_count} frames from the parts of {job.source.name}, "
                              f"found {written}; nothing was written to {job.output}")
    shutil.rmtree(job.parts, ignore_errors=True)
    return written
