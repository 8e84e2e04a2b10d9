"""``edgeir run --ray``: restore images and videos on a Ray cluster with Ray Data.

An actor pool of ``RestoreWorker`` (each loads the model once) takes the work items one
at a time; Ray restarts an actor that dies and retries its item. Only paths travel
through Ray: workers read their inputs and write their outputs themselves, so memory holds
the files in flight, not the collection. Videos are cut into frame ranges and joined on
the driver (``edgeir.distributed.work``).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from edgeir.distributed.cluster import check_resources, ray_cluster
from edgeir.distributed.work import VideoJob, WorkItem, join_parts, plan_items
from edgeir.distributed.worker import RestoreOptions, RestoreWorker
from edgeir.errors import EdgeIRError
from edgeir.progress import progress_bar
from edgeir.run import NOT_RESTORED, RunReport, pending, plan_all


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None
    """None: a local Ray on this machine for this run; ``auto`` or ``ray://HOST:PORT``: join."""
    workers: int | None = None
    """Actors in the pool; None: as many as the cluster's CPUs (or GPUs) hold."""
    threads: int = 1
    """CPUs each worker reserves, and the runtime's thread count where it takes one."""
    gpus_per_worker: float = 0.0
    frames_per_part: int = 8
    """Frames of a video one item restores: small enough that a short video spreads over
    every worker, large enough that seeking and Ray's per-item cost stay small beside the
    network's seconds per frame."""

    def check(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise EdgeIRError(f"expected --workers of at least 1, found {self.workers}")
        if self.threads < 1:
            raise EdgeIRError(f"expected --threads of at least 1, found {self.threads}")
        if self.gpus_per_worker < 0:
            raise EdgeIRError(f"expected --gpus-per-worker of 0 or more, found {self.gpus_per_worker}")
        if self.frames_per_part < 1:
            raise EdgeIRError(f"expected --frames-per-part of at least 1, found {self.frames_per_part}")


def _check_model(options: RestoreOptions, cpus: int) -> tuple[RestoreOptions, dict[str, Any]]:
    """Open the model here once, so that a wrong path, tile or batch fails now in one line
    rather than in every worker; returns the options the workers use and the runtime's
    facts. Workers run their runtime on the ``cpus`` they reserve (unless ``threads`` says
    otherwise) where it takes a thread count; Ray's OMP_NUM_THREADS caps the others."""
    from edgeir.runtimes import BACKENDS

    with RestoreOptions(**{**asdict(options), "threads": None}).restorer() as restorer:
        info = restorer.runtime.info
    backend = BACKENDS.get(info.backend)
    threads = (options.threads or cpus) if backend is not None and backend.threads else None
    return RestoreOptions(**{**asdict(options), "threads": threads}), info.to_dict()


def _settings(options: RestoreOptions) -> dict[str, Any]:
    """What a video's parts depend on, to tell kept parts from stale ones."""
    model = Path(options.model)
    stamp = {"model_size": model.stat().st_size, "model_mtime_ns": model.stat().st_mtime_ns} if model.is_file() else {}
    return {**asdict(options), "threads": None, "model": str(model.resolve()) if model.exists() else options.model,
            **stamp}


def restore_on_ray(
    options: RestoreOptions, sources: Sequence[str | Path] | str | Path, destination: str | Path,
    cluster: RayOptions = RayOptions(), overwrite: bool = False, skip_existing: bool = False,
) -> tuple[RunReport, dict[str, Any]]:
    """Restore like ``edgeir.run.restore_files``, on Ray. Returns the report and the
    runtime's facts (as a worker saw them opened on the driver)."""
    cluster.check()
    pairs, kept = pending(plan_all(sources, destination), overwrite, skip_existing)
    # Workers do not share this process's working directory: they get absolute paths.
    pairs = [(source.absolute(), output.absolute()) for source, output in pairs]
    if Path(options.model).exists():
        options = RestoreOptions(**{**asdict(options), "model": str(Path(options.model).absolute())})
    options, facts = _check_model(options, cluster.threads)
    items, jobs, failed = plan_items(pairs, cluster.frames_per_part, options.batch, _settings(options))
    report = RunReport(skipped=kept, failed=failed)
    if items:
        with ray_cluster(cluster.address) as connection:
            _run_items(connection.ray, options, cluster, items, report)
    _join(jobs, report)
    return report, facts


def _pool_size(ray: Any, cluster: RayOptions) -> int:
    if cluster.workers is not None:
        return cluster.workers
    resources = ray.cluster_resources()
    by_cpu = int(resources.get("CPU", 1) // cluster.threads)
    by_gpu = int(resources.get("GPU", 0) // cluster.gpus_per_worker) if cluster.gpus_per_worker else by_cpu
    return max(1, min(by_cpu, by_gpu))


def _run_items(ray: Any, options: RestoreOptions, cluster: RayOptions, items: list[WorkItem],
               report: RunReport) -> None:
    import logging

    import ray.data

    logging.getLogger("ray.data").setLevel(logging.WARNING)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # edgeir's own bar says what was done
    context.enable_operator_progress_bars = False
    workers = min(_pool_size(ray, cluster), len(items))
    check_resources(ray, workers, cluster.threads, cluster.gpus_per_worker)
    dataset = ray.data.from_items([item.row() for item in items], override_num_blocks=len(items))
    restored = dataset.map_batches(
        RestoreWorker, fn_constructor_kwargs={"options": options}, batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=cluster.threads,
        num_gpus=cluster.gpus_per_worker or None, batch_format="numpy",
    )
    known = [item.frames for item in items]
    total = sum(f for f in known if f is not None) if all(f is not None for f in known) else None
    per_worker: Counter[str] = Counter()
    began = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task(f"restoring on Ray with {workers} worker(s)", total=total)
        for done, row in enumerate(restored.iter_rows(), start=1):
            frames = int(row["frames"])
            per_worker[str(row["worker"])] += frames
            if row["status"] == "done":
                if not str(row["output"]).endswith(".npy"):
                    report.written.append(Path(str(row["output"])))
                report.frames += frames
            elif Path(str(row["source"])) not in {path for path, _ in report.failed}:  # once per video
                report.failed.append((Path(str(row["source"])), str(row["reason"])))  # said once, at the end
            workers_text = "+".join(str(count) for _, count in sorted(per_worker.items()))
            bar.update(task, advance=frames, description=f"items {done}/{len(items)} · per worker {workers_text}")
    report.workers = dict(per_worker)
    report.seconds = time.perf_counter() - began


def _join(jobs: list[VideoJob], report: RunReport) -> None:
    failed = {path for path, _ in report.failed}
    for job in jobs:
        if job.source in failed:
            continue
        missing = [job.part_path(a, b).name for a, b in job.ranges if not job.part_path(a, b).is_file()]
        if missing:
            report.failed.append((job.source, f"{NOT_RESTORED}: expected every part of the video, found "
                                              f"{len(missing)} missing"))
            continue
        try:
            join_parts(job)
        except EdgeIRError as exc:
            report.failed.append((job.source, f"{NOT_RESTORED}: {exc}"))
        else:
            report.written.append(job.output)
