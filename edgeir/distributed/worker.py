"""The work a Ray actor does: load the model once into a ``Restorer``, then restore the
images and video ranges it is handed, writing each output itself.

Plain Python with no Ray import: Ray Data calls it with a batch of rows and gets a batch
of result rows back, one per item, whatever happened. A frame the model cannot take or a
file that cannot be read is a result ("failed" and why), as in ``edgeir run``; anything
else is a bug or a dead machine and is left to Ray's retries.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.data.io import write_image
from edgeir.data.video import VideoReader
from edgeir.distributed.work import WorkItem, write_part
from edgeir.errors import EdgeIRError
from edgeir.run import read_input, skip_reason


@dataclass(frozen=True)
class RestoreOptions:
    """What each worker builds its ``Restorer`` from: the options of ``edgeir run``."""

    model: str
    tile: int | None = None
    overlap: int = 32
    batch: int = 1
    color: str = "rgb"
    device: str | None = None
    task: str | None = None
    threads: int | None = None

    def restorer(self) -> Any:
        from edgeir.runtimes import load
        from edgeir.runtimes.restorer import Restorer

        extra = {"task": self.task} if self.task else {}
        if self.threads is not None:
            extra["threads"] = self.threads
        runtime = load(self.model, self.device, **extra)
        return Restorer(runtime, tile=self.tile, overlap=self.overlap, batch=self.batch, color=self.color)


class RestoreWorker:
    def __init__(self, options: RestoreOptions) -> None:
        self.restorer = options.restorer()
        self.name = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        results: dict[str, list[Any]] = {key: [] for key in
                                         ("source", "output", "start", "status", "reason", "frames", "seconds", "worker")}
        for index in range(len(batch["source"])):
            item = WorkItem.from_row({key: values[index] for key, values in batch.items()})
            began = time.perf_counter()
            try:
                frames = self._do(item)
                status, reason = "done", ""
            except EdgeIRError as exc:
                frames, status, reason = 0, "failed", skip_reason(exc)
            for key, value in (("source", item.source), ("output", item.output), ("start", item.start),
                               ("status", status), ("reason", reason), ("frames", frames),
                               ("seconds", time.perf_counter() - began), ("worker", self.name)):
                results[key].append(value)
        return results

    def _do(self, item: WorkItem) -> int:
        if not item.video:
            write_image(item.output, self.restorer.restore(read_input(item.source)))
            return 1
        count = item.frames
        restored: list[np.ndarray] = []
        with VideoReader(item.source) as reader:
            reader.seek(item.start)
            for batch in reader.batches(self.restorer.batch, count):
                restored += self.restorer.restore_batch(batch)
            reader.check_complete(len(restored), Path(item.output), count)
        write_part(Path(item.output), restored)
        return len(restored)
