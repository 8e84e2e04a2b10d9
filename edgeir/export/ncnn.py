"""ncnn targets ``ncnn`` and ``ncnn-int8``: the export rewrite converted by pnnx into a
``.param`` graph and its ``.bin`` weights.

pnnx converts a TorchScript trace. It cannot take a stride-2 slice, so the rewrite's input
pyramid is pooled instead (the same pixels). The graph it writes holds no sizes (crops are
offsets from the edges, upsampling is by scale), so one graph takes every legal size: it is
converted at the export's first size and checked again at a second size of the range.

``ncnn`` stores FP16 weights, and computes in FP16 on ARM as ncnn does by default; layers
whose activations come near FP16's limit on calibration frames are masked to FP32 in the
graph. ``ncnn-int8`` gives the convolutions INT8 scales from ``--calib`` frames
(``edgeir.calib.ncnn_int8``) and keeps the rest FP32.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import warnings
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeir.errors import EdgeIRError
from edgeir.export.calibration import calibration_lines
from edgeir.export.ncnn_param import ParamGraph
from edgeir.export.parity import compare
from edgeir.export.pipeline import Network, Product, write_with_weights
from edgeir.export.request import ExportRequest, ExportResult
from edgeir.manifest import Manifest
from edgeir.runtimes.ncnn_backend import extract, open_net, reduced_precision_here, run_net
from edgeir.shapes import SIZE_MULTIPLE, InputShapes, Size

log = logging.getLogger("edgeir")

FP16_OPTIONS = {"use_fp16_storage": True, "use_fp16_arithmetic": True}
INT8_OPTIONS = {"use_int8_inference": True}
FP16_RANGE_NOTE = "the layers listed have feature mask 31=7 in the .param: ncnn computes and stores them in FP32"
NOT_HERE = "FP16 arithmetic is not run on this CPU (ncnn computes FP32 on x86): the parity is of the FP16 weights"


def check_options(request: ExportRequest) -> None:
    if request.shapes.max_batch != 1:
        raise EdgeIRError(f"expected --batch 1 for {request.target.name} (ncnn runs one image per extractor; "
                          f"a batch is run image by image), found {request.shapes.max_batch}")


def second_size(shapes: InputShapes) -> Size | None:
    """A size of the range other than the first, taller and wider where the range allows."""
    if shapes.static:
        return None
    size = tuple(min(low + step, high) for low, high, step in zip(shapes.min, shapes.max,
                                                                    (SIZE_MULTIPLE, 2 * SIZE_MULTIPLE)))
    return None if size == shapes.min else size  # type: ignore[return-value]


def convert(rewrite: Any, size: Size, fp16: bool, folder: Path) -> tuple[ParamGraph, bytes]:
    """pnnx's ncnn graph of ``rewrite`` traced at ``size``: (the graph, its weights)."""
    import pnnx
    import torch

    from edgeir.models.rewrite import pooled_pyramid

    log.info("tracing the export rewrite at %dx%d for pnnx", *size)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(pooled_pyramid(rewrite), torch.zeros(1, 3, *size))
    script = folder / "model.pt"
    traced.save(str(script))
    files = {"ncnnparam": "model.ncnn.param", "ncnnbin": "model.ncnn.bin", "ncnnpy": "model_ncnn.py",
             "pnnxparam": "model.pnnx.param", "pnnxbin": "model.pnnx.bin", "pnnxpy": "model_pnnx.py",
             "pnnxonnx": "model.pnnx.onnx"}
    log.info("converting with pnnx (%s weights)", "FP16" if fp16 else "FP32")
    done = subprocess.run([pnnx.EXEC_PATH, str(script), f"inputshape=[1,3,{size[0]},{size[1]}]f32",
                           f"fp16={int(fp16)}", "device=cpu", *(f"{k}={folder / v}" for k, v in files.items())],
                          cwd=folder, capture_output=True, text=True)
    param = folder / files["ncnnparam"]
    if done.returncode != 0 or not param.is_file():
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise EdgeIRError(f"expected pnnx to convert the rewrite to ncnn, found exit status {done.returncode}: {last}")
    return ParamGraph.parse(param.read_text()), (folder / files["ncnnbin"]).read_bytes()


@dataclass
class NcnnProduct(Product):
    graph: ParamGraph | None = None
    weights: bytes = b""
    shapes: InputShapes | None = None
    rewrite: Any = None
    folder: Path | None = None
    """Where the graph is staged for ncnn to load (it reads files)."""
    _net: Any = field(default=None, repr=False)

    @property
    def net(self) -> Any:
        if self._net is None:
            self._net = stage(self.graph, self.weights, self.folder, "artifact", self.runtime_options)  # type: ignore[arg-type]
        return self._net

    def run(self, x: np.ndarray) -> np.ndarray:
        return run_net(self.net, x)

    def measure(self, x: np.ndarray, expected: np.ndarray, output: np.ndarray) -> None:
        size = second_size(self.shapes) if self.shapes is not None else None
        if size is not None:
            # The same content, reflected out to the second size: the graph must not hold the first.
            grown = np.pad(x, ((0, 0), (0, 0), (0, size[0] - x.shape[2]), (0, size[1] - x.shape[3])), mode="reflect")
            import torch

            with torch.no_grad():
                reference = self.rewrite(torch.from_numpy(grown)).numpy()
            self.details["second_size"] = {"size": f"{size[0]}x{size[1]}", **compare(reference, self.run(grown))}
        if self.precision == "fp16" and not reduced_precision_here():
            bf16 = stage(self.graph, self.weights, self.folder, "bf16", {"use_bf16_storage": True})  # type: ignore[arg-type]
            self.details["bf16_storage_psnr_db"] = compare(expected, run_net(bf16, x))["psnr_db"]

    def save(self, path: Path) -> None:
        path.write_text(self.graph.text())  # type: ignore[union-attr]
        path.with_suffix(".bin").write_bytes(self.weights)

    def write(self, manifest: Manifest, output: Path) -> ExportResult:
        return write_with_weights(self, manifest, output)

    def lines(self, manifest: Manifest) -> list[str]:
        details = manifest.details
        lines = []
        if "second_size" in details:
            check = details["second_size"]
            lines.append(f"  sizes     one graph for every size: also {check['size']}, max abs {check['max_abs']:.2e}")
        if "note" in details:
            lines.append(f"  note      {details['note']}")
        return lines + calibration_lines(details)


def stage(graph: ParamGraph, weights: bytes, folder: Path, name: str, options: dict[str, Any]) -> Any:
    """Write ``graph`` and ``weights`` into ``folder`` as ``name`` and open them in ncnn."""
    param = folder / f"{name}.param"
    param.write_text(graph.text())
    param.with_suffix(".bin").write_bytes(weights)
    return open_net(param, param.with_suffix(".bin"), options)


def _fp16(graph: ParamGraph, weights: bytes, request: ExportRequest, network: Network,
          folder: Path) -> dict[str, Any]:
    """The FP16 range check on ncnn's own blobs; layers over it are masked to FP32."""
    from edgeir.export.fp16_range import ranges_of, warn
    from edgeir.export.onnx import range_frames

    net = stage(graph, weights, folder, "range", {})
    tops = tuple(top for layer in graph.layers for top in layer.tops)
    peaks = dict.fromkeys(tops, 0.0)
    log.info("measuring activation peaks of %d blobs for the FP16 range check", len(tops))
    for batch in range_frames(request, network):
        for image in batch:
            for top, value in zip(tops, extract(net, image, tops)):
                peaks[top] = max(peaks[top], float(np.abs(value).max()))
    ranges = ranges_of(peaks, graph.nodes())
    warn(ranges)
    graph.keep_fp32(ranges.kept_nodes)
    details: dict[str, Any] = {"fp16_range": ranges.record(FP16_RANGE_NOTE)}
    if not reduced_precision_here():
        details["note"] = NOT_HERE
    return details


def _int8(graph: ParamGraph, weights: bytes, request: ExportRequest, network: Network,
          folder: Path) -> tuple[ParamGraph, bytes, dict[str, Any], Any]:
    from edgeir.calib.ncnn_int8 import activation_ranges, quantize
    from edgeir.export.calibration import calibration_frames, describe
    from edgeir.export.parity import held_out_agreement
    from edgeir.progress import progress_bar

    fit, held_out = calibration_frames(request, network.size)
    fp32 = stage(graph, weights, folder, "fp32", {})
    convolutions = graph.of_type("Convolution")
    frames = [batch[0] for batch in fit.batches(1, whole=True)]
    with progress_bar("frames") as bar:
        task = bar.add_task("calibrating ncnn INT8", total=len(frames))

        def tracked() -> Any:
            for frame in frames:
                yield frame
                bar.advance(task, 1)

        ranges = activation_ranges(lambda image, blobs: extract(fp32, image, blobs), convolutions, tracked())
    quantized, int8_weights = quantize(ParamGraph.parse(graph.text()), weights, ranges)
    int8 = stage(quantized, int8_weights, folder, "int8", INT8_OPTIONS)
    details: dict[str, Any] = {
        "calibration": describe(fit, held_out), "calibration_method": "minmax",
        "int8_layers": sum(1 for layer in quantized.of_type("Convolution") if "8" in layer.params),
        "fp32_layers": "Deconvolution and every layer that is not a Convolution",
        **held_out_agreement(lambda b: run_net(fp32, b), lambda b: run_net(int8, b), held_out, 1),
    }
    log.info("INT8 vs the FP32 ncnn graph on %d held-out frames: %.2f dB", len(held_out), details["psnr_vs_fp32_graph_db"])
    return quantized, int8_weights, details, held_out


def make(request: ExportRequest, network: Network) -> NcnnProduct:
    folder = Path(tempfile.mkdtemp(prefix="edgeir-ncnn-"))
    try:
        return _make(request, network, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _make(request: ExportRequest, network: Network, folder: Path) -> NcnnProduct:
    precision = request.target.precision
    graph, weights = convert(network.rewrite, network.size, precision == "fp16", folder)
    held_out = None
    if precision == "int8":
        graph, weights, details, held_out = _int8(graph, weights, request, network, folder)
        options = INT8_OPTIONS
    else:
        details, options = _fp16(graph, weights, request, network, folder), FP16_OPTIONS
    product = NcnnProduct(runtime="ncnn on this CPU", versions=("ncnn", "pnnx"), details=details,
                          held_out=held_out, precision=precision, runtime_options=dict(options), graph=graph,
                          weights=weights, shapes=request.shapes, rewrite=network.rewrite, folder=folder)
    weakref.finalize(product, shutil.rmtree, folder, True)
    return product
