"""Build a TensorRT engine from a TRT-ready ONNX graph, on the device that will run it.

An engine is tied to one GPU model and one TensorRT version, so this runs where the engine
will be used (a Jetson, a workstation), through ``edgeir export`` when TensorRT and a GPU
are present, ``edgeir build-engine`` or ``edgeir bench --bundle`` later; it lives with the
runtimes because the device has no exporter (and needs neither torch nor onnx for this).
Two TensorRT generations are supported:

- TensorRT 10: the network is weakly typed and precision comes from builder flags (FP16,
  and INT8 for a Q/DQ graph, whose scales are then taken from the graph);
- TensorRT 11 removed those flags: every network is strongly typed, so the graph's own
  types (FP16 casts, int8 Q/DQ) are what runs.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeir.errors import EdgeIRError
from edgeir.fileio import atomic_path, sha256_of
from edgeir.manifest import Manifest, manifest_path
from edgeir.runtimes.cuda import Gpu, gpus
from edgeir.shapes import InputShapes

log = logging.getLogger("edgeir")

DEFAULT_WORKSPACE_MB = 4096
SUPPORTED_MAJORS = (10, 11)

Dims = tuple[int, int, int, int]


@dataclass(frozen=True)
class Profile:
    """The optimization profile of the one image input: N x 3 x H x W at min, opt, max."""

    input: str
    min: Dims
    opt: Dims
    max: Dims

    @classmethod
    def from_shapes(cls, shapes: InputShapes, input_name: str) -> Profile:
        """Legal sizes only (``InputShapes`` checked them); batch 1 up to ``max_batch`` for a
        dynamic graph, optimised at the largest batch; a static graph's own shape thrice."""
        if shapes.static:
            fixed = (shapes.max_batch, 3, *shapes.opt)
            return cls(input_name, fixed, fixed, fixed)
        profile = cls(input_name, (1, 3, *shapes.min), (shapes.max_batch, 3, *shapes.opt),
                      (shapes.max_batch, 3, *shapes.max))
        if not all(a <= b <= c for a, b, c in zip(profile.min, profile.opt, profile.max)):
            raise EdgeIRError(f"expected min <= opt <= max in every dimension, found {profile.describe()}")
        return profile

    def describe(self) -> str:
        return ":".join("x".join(map(str, d)) for d in (self.min, self.opt, self.max))

    def trtexec_flags(self) -> list[str]:
        return [f"--{label}Shapes={self.input}:{'x'.join(map(str, dims))}"
                for label, dims in (("min", self.min), ("opt", self.opt), ("max", self.max))]

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, "min": list(self.min), "opt": list(self.opt), "max": list(self.max)}


def cuda_gpu() -> Gpu | None:
    """The first CUDA GPU, the one an engine is built on (its name and compute capability);
    None where there is none."""
    found = gpus()
    return found[0] if found else None


def why_no_engine() -> str | None:
    """None where an engine can be built here; else what is missing, in one phrase. Building
    needs what running needs: TensorRT and a CUDA GPU."""
    from edgeir.runtimes.tensorrt_backend import why_unavailable

    return why_unavailable()


def major_version(trt: Any) -> int:
    version = str(getattr(trt, "__version__", "0"))
    major = int(version.split(".")[0]) if version.split(".")[0].isdigit() else 0
    if major not in SUPPORTED_MAJORS:
        raise EdgeIRError(
            f"expected TensorRT {' or '.join(map(str, SUPPORTED_MAJORS))}, found TensorRT {version}"
        )
    return major


def build_commands(onnx_path: Path, engine_path: Path, profile: Profile, shapes: InputShapes,
                   precision: str, workspace_mb: int = DEFAULT_WORKSPACE_MB) -> dict[str, str]:
    """The two ways to build the engine on the device, as command lines."""
    dynamic = "" if shapes.static else (
        " --dynamic " + ":".join(f"{h}x{w}" for h, w in (shapes.min, shapes.opt, shapes.max))
        + f" --batch {shapes.max_batch}"
    )
    edgeir = f"edgeir build-engine {onnx_path}{dynamic} -o {engine_path}"
    shape_flags = "" if shapes.static else " " + " ".join(profile.trtexec_flags())
    # trtexec's --stronglyTyped (TensorRT 10.x and 11) takes the precisions the graph holds;
    # it is how TensorRT 11 always builds.
    trtexec = (f"trtexec --onnx={onnx_path} --saveEngine={engine_path}{shape_flags} --stronglyTyped "
               f"--memPoolSize=workspace:{workspace_mb}M")
    return {"edgeir": edgeir, "trtexec": trtexec, "precision": precision}


def _parse(trt: Any, network: Any, logger: Any, onnx_path: Path) -> None:
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise EdgeIRError(
            f"expected TensorRT's ONNX parser to accept {onnx_path}, found {len(errors)} error(s): "
            + (errors[0].replace("\n", " ") if errors else "no detail")
        )


def build_engine(
    onnx_path: Path, profile: Profile, precision: str,
    workspace_mb: int = DEFAULT_WORKSPACE_MB, timing_cache: Path | None = None, trt: Any = None,
) -> tuple[bytes, dict[str, Any]]:
    """(the serialized engine, what the manifest records about it); the timing cache, when
    given, is read first and written back. ``trt`` is the tensorrt module (imported here
    when None)."""
    if precision not in ("fp16", "int8"):
        raise EdgeIRError(f"expected an fp16 or int8 TRT-ready graph, found {precision}")
    if trt is None:
        from edgeir.runtimes.base import import_runtime
        from edgeir.runtimes.tensorrt_backend import TENSORRT_INSTALL

        trt = import_runtime("tensorrt", "building a TensorRT engine", "tensorrt", TENSORRT_INSTALL)
    major = major_version(trt)
    gpu = cuda_gpu()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    _parse(trt, network, logger, onnx_path)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mb << 20)
    if major == 10:
        mode = "weakly typed, builder flags " + ("FP16 + INT8" if precision == "int8" else "FP16")
        config.set_flag(trt.BuilderFlag.FP16)
        if precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
    else:
        mode = "strongly typed (the graph's FP16 casts and Q/DQ)"
    optimization = builder.create_optimization_profile()
    optimization.set_shape(profile.input, profile.min, profile.opt, profile.max)
    config.add_optimization_profile(optimization)
    cache_bytes = timing_cache.read_bytes() if timing_cache is not None and timing_cache.is_file() else b""
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, False)
    log.info("building the TensorRT %s engine (%s, profile %s); this takes minutes",
             trt.__version__, mode, profile.describe())
    started = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EdgeIRError(f"expected TensorRT to build an engine from {onnx_path}, found a failed "
                          "build (its log above says why); nothing was written")
    if timing_cache is not None:
        with atomic_path(timing_cache) as temp:
            temp.write_bytes(bytes(cache.serialize()))
    return bytes(serialized), {
        "tensorrt": str(trt.__version__),
        "gpu": gpu.name if gpu else None,
        # what Triton's cc_model_filenames and TensorRT's compatibility go by; a GPU name
        # alone would need a table of names (edgeir.distributed.triton.gpus)
        "compute_capability": gpu.compute_capability if gpu else None,
        "build_mode": mode,
        "profile": profile.to_dict(),
        "workspace_mb": workspace_mb,
        "timing_cache": str(timing_cache) if timing_cache is not None else None,
        "build_seconds": round(time.perf_counter() - started, 1),
    }


def graph_manifest(onnx_path: Path) -> Manifest:
    """The manifest of a TRT-ready graph written by ``edgeir export --target trt-*``."""
    sidecar = manifest_path(onnx_path)
    if not onnx_path.is_file():
        raise EdgeIRError(f"expected a TRT-ready ONNX file, found nothing at {onnx_path}")
    if not sidecar.is_file():
        raise EdgeIRError(f"expected {sidecar.name} beside {onnx_path.name} (written by edgeir export "
                          "--target trt-fp16|trt-int8), found none")
    source = Manifest.read(sidecar)
    if not source.target.startswith("trt-"):
        raise EdgeIRError(f"expected a TRT-ready graph (target trt-fp16 or trt-int8), found a {source.target} export")
    return source


def write_engine(onnx_path: Path, engine_path: Path, shapes: InputShapes | None = None,
                 workspace_mb: int = DEFAULT_WORKSPACE_MB, timing_cache: Path | None = None,
                 trt: Any = None) -> Manifest:
    """Build the engine of a TRT-ready ONNX and write it atomically with its manifest (the
    graph's, with the runtime, the profile and the build recorded); ``shapes`` replaces the
    graph's profile (the caller has checked the graph allows it)."""
    from dataclasses import replace

    source = graph_manifest(onnx_path)
    shapes = shapes or source.input_shapes
    profile = Profile.from_shapes(shapes, source.input["name"])
    data, built = build_engine(onnx_path, profile, source.precision, workspace_mb, timing_cache, trt=trt)
    details = {**source.details, "engine": {**built, "onnx": onnx_path.name, "onnx_sha256": source.artifact.get("sha256")}}
    manifest = replace(source, runtime="tensorrt", shapes=shapes.to_dict(), details=details)
    with atomic_path(engine_path) as temp:
        temp.write_bytes(data)
        manifest.artifact = {"file": engine_path.name, "sha256": sha256_of(temp), "size_bytes": temp.stat().st_size}
        manifest.write(manifest_path(engine_path))
    log.info("wrote %s and %s", engine_path, manifest_path(engine_path).name)
    return manifest


def cache_key(*parts: str) -> str:
    """A short digest of what a cached file depends on, for its name."""
    import hashlib

    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def cached_engine(onnx_path: Path, cache: Path, trt: Any = None) -> tuple[Path, bool]:
    """(the engine of ``onnx_path`` in ``cache``, whether it was built now): built once per
    graph, TensorRT version, GPU and profile, with a timing cache per TensorRT version and
    GPU beside the engines, so a second run loads instead of rebuilding. The GPU is keyed by
    the name CUDA reports, which is one chip and so one compute capability (and finer: an
    A10 and an A40 share 8.6 but not tuned kernels); the capability is recorded in the
    manifest, not keyed, so caches already on devices stay valid."""
    if trt is None:
        from edgeir.runtimes.base import import_runtime
        from edgeir.runtimes.tensorrt_backend import TENSORRT_INSTALL

        trt = import_runtime("tensorrt", "building a TensorRT engine", "tensorrt", TENSORRT_INSTALL)
    source = graph_manifest(onnx_path)
    found = cuda_gpu()
    version, gpu = str(trt.__version__), found.name if found else "no GPU"
    profile = Profile.from_shapes(source.input_shapes, source.input["name"])
    key = cache_key(sha256_of(onnx_path), version, gpu, profile.describe())
    engine = cache / f"{onnx_path.name.removesuffix('.onnx')}.{key}.engine"
    if engine.is_file() and manifest_path(engine).is_file():
        log.info("TensorRT engine from the cache: %s", engine.name)
        return engine, False
    timing = cache / f"timing.{cache_key(version, gpu)}.cache"
    cache.mkdir(parents=True, exist_ok=True)
    write_engine(onnx_path, engine, timing_cache=timing, trt=trt)
    return engine, True
