"""ncnn backend: a ``.param`` graph and its ``.bin`` weights through ncnn's Python package.

ncnn needs no torch: this is the runtime an Android app links (``libncnn``, CPU or Vulkan),
here on the host CPU. A graph converted by pnnx names its input ``in0`` and its output
``out0``; it holds no sizes (crops are offsets from the edges, upsampling is by scale), so
one graph takes every size the network's size rule allows, within the manifest's range.
ncnn runs one image per extractor: a batch is run image by image.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.fileio import inside
from edgeir.manifest import Manifest
from edgeir.runtimes.base import Runtime, RuntimeInfo, artifact_task, import_runtime, refused_input

INPUT_BLOB = "in0"
OUTPUT_BLOB = "out0"
OPTION_NAMES = ("use_fp16_storage", "use_fp16_arithmetic", "use_fp16_packed", "use_bf16_storage",
                "use_int8_inference")
"""The ``ncnn.Option`` fields a manifest's ``runtime_options`` may set."""
ARM = ("aarch64", "arm64", "armv7l", "armv8l")


def reduced_precision_here() -> bool:
    """Whether ncnn's FP16 storage and arithmetic take effect on this CPU: on ARM they do,
    on x86 ncnn computes FP32 whatever the options say."""
    return platform.machine().lower() in ARM


def open_net(param: Path, weights: Path, options: dict[str, Any], threads: int | None = None) -> Any:
    """An ``ncnn.Net`` with ``options`` set before loading (ncnn packs the weights for them
    at load time)."""
    ncnn = import_runtime("ncnn", "running ncnn models", "ncnn-runtime")
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise EdgeIRError(f"expected ncnn options among {', '.join(OPTION_NAMES)}, found {', '.join(unknown)}")
    net = ncnn.Net()
    for name, value in options.items():
        setattr(net.opt, name, bool(value))
    if threads is not None:
        net.opt.num_threads = threads
    if net.load_param(str(param)) != 0:
        raise EdgeIRError(f"expected an ncnn .param graph that ncnn can read at {param}, found one it refuses")
    if net.load_model(str(weights)) != 0:
        raise EdgeIRError(f"expected the ncnn weights of {param.name} at {weights}, found a file ncnn refuses "
                          "(missing, truncated or from another graph)")
    return net


def extract(net: Any, image: np.ndarray, blobs: tuple[str, ...] = (OUTPUT_BLOB,)) -> list[np.ndarray]:
    """``blobs`` of one 3 x H x W image, in the order given (blobs in graph order are
    computed once each: ncnn keeps what a later layer still reads)."""
    import ncnn

    extractor = net.create_extractor()
    extractor.input(INPUT_BLOB, ncnn.Mat(np.ascontiguousarray(image, np.float32)).clone())
    values = []
    for blob in blobs:
        status, mat = extractor.extract(blob)
        if status != 0:
            raise RuntimeError(f"ncnn could not compute blob {blob} (error {status})")
        values.append(np.array(mat, copy=True))
    return values


def run_net(net: Any, x: np.ndarray) -> np.ndarray:
    """The graph's output for an N x 3 x H x W batch, image by image."""
    return np.stack([extract(net, image)[0] for image in x])


class NcnnRuntime(Runtime):
    def __init__(self, path: str | Path, manifest: Manifest | None, device: str | None = None,
                 task: str | None = None, threads: int | None = None) -> None:
        if device not in (None, "cpu"):
            raise EdgeIRError(f"expected device cpu for an ncnn model (ncnn's Python package runs on the CPU), "
                              f"found {device!r}")
        self.path = Path(path)
        weights = self.path.with_suffix(".bin")
        if manifest is not None and manifest.artifact.get("weights_file"):
            weights = inside(self.path.parent, manifest.artifact["weights_file"],
                             f"the weights_file of {self.path.name}'s manifest")
        options = dict(manifest.runtime_options) if manifest is not None else {}
        self.net: Any = open_net(self.path, weights, options, threads)
        notes: list[str] = []
        task = artifact_task(manifest, task, path, notes)
        precision = manifest.precision if manifest else "fp32"
        if precision == "fp16" and not reduced_precision_here():
            # What runs here, not what the file asks for: FP16 weights widened to FP32.
            precision = "fp32"
            notes.append(f"ncnn computes FP32 on this {platform.machine()} CPU (the FP16 weights widened): "
                         "its FP16 storage and arithmetic take effect on ARM")
        settings = [f"{k}={v}" for k, v in options.items()] + ([f"num_threads={threads}"] if threads else [])
        self.info = RuntimeInfo.of_artifact("ncnn", manifest, task, "CPU", [f"ncnn {metadata.version('ncnn')}",
                                                                           *settings], notes, precision)

    def _run(self, x: np.ndarray) -> np.ndarray:
        try:
            return run_net(self.net, x)
        except RuntimeError as exc:
            accepts = self.info.shapes.describe() if self.info.shapes else "the sizes of the network's rule"
            raise refused_input("ncnn", self.path.name, x, accepts, exc) from None

    def _release(self) -> None:
        self.net = None
