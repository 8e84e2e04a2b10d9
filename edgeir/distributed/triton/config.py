"""Triton's ``config.pbtxt`` of one model folder, built as a message of Triton's own schema
(``tritonclient.grpc.model_config_pb2``) and written in protobuf's text format, so it always
parses the way Triton parses it; the manifest's facts ride along as ``edgeir.*`` string
parameters."""

from __future__ import annotations

import json
from typing import Any

from edgeir.distributed.triton.models import Model
from edgeir.errors import EdgeIRError

INSTALL = 'pip install "edgeir[triton]"'

KINDS = ("cpu", "gpu", "auto")
BACKENDS = {
    # runtime in the manifest: (Triton backend, Triton platform or None, allowed kinds, default kind)
    "onnxruntime": ("onnxruntime", "onnxruntime_onnx", ("cpu", "gpu", "auto"), "cpu"),
    "tensorrt": ("tensorrt", "tensorrt_plan", ("gpu",), "gpu"),
    "openvino": ("openvino", None, ("cpu",), "cpu"),
}
"""Why these kinds: Triton's TensorRT backend runs plans on GPU instances only, its OpenVINO
backend on CPU instances only ("supports only Kind CPU"); ONNX Runtime runs anywhere, and
defaults to the CPU because edgeir verified its ONNX graphs on ONNX Runtime's CPU kernels
(``onnx-int8``'s uint8 activations are made for them)."""


def load_schema() -> Any:
    """Triton's ``model_config_pb2``, imported on first use (the ``triton`` extra)."""
    try:
        from tritonclient.grpc import model_config_pb2
    except ImportError:
        raise EdgeIRError("writing Triton model configs needs tritonclient (Triton's config schema), "
                          f"which is not installed: {INSTALL}") from None
    return model_config_pb2


def _parameters(model: Model) -> dict[str, str]:
    """The manifest's facts as ``edgeir.*`` strings (JSON for structured values): what a
    client must know to feed the model, and what it was measured to do."""
    manifest = model.first.manifest
    parity = manifest.parity
    facts: dict[str, Any] = {
        "target": manifest.target,
        "precision": manifest.precision,
        "variant": manifest.variant,
        "task": manifest.task,
        "layout": manifest.input.get("layout"),
        "color": manifest.input.get("color"),
        "value_range": manifest.input.get("range"),
        "size_rule": manifest.size_rule,
        "shapes": manifest.input_shapes.describe(),
        "psnr_db": parity.get("psnr_db"),
        "psnr_reference": parity.get("reference"),
        "psnr_measured_on": parity.get("runtime"),
        "weights": manifest.weights.get("description"),
        "weights_sha256": manifest.weights.get("sha256"),
        "runtime_options": manifest.runtime_options or None,
        "exported_by": f"edgeir {manifest.versions.get('edgeir', '?')}",
        "tensors_from": model.first.tensors_from,
    }
    if len(model.artifacts) == 1:
        facts["artifact_sha256"] = manifest.artifact.get("sha256")
        if model.first.runtime == "tensorrt":
            engine = manifest.details.get("engine") or {}
            facts["gpu"], facts["tensorrt"] = engine.get("gpu"), engine.get("tensorrt")
    else:
        facts["engines"] = {a.compute_capability: {"file": f"model_{a.compute_capability}.plan", "gpu": a.gpu,
                                                   "tensorrt": (a.manifest.details.get("engine") or {}).get("tensorrt"),
                                                   "sha256": a.manifest.artifact.get("sha256")}
                            for a in model.artifacts}
    return {f"edgeir.{key}": value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            for key, value in facts.items() if value is not None}


def build_config(model: Model, instances: int = 1, kind: str | None = None, max_batch: int | None = None,
                 max_queue_delay_us: int | None = None, schema: Any = None) -> Any:
    """The ``ModelConfig`` message of one model folder.

    ``max_batch_size``: Triton's batcher and its backends require a free first dimension
    (ONNX Runtime and TensorRT refuse ``max_batch_size > 0`` on a fixed one), so a graph or
    engine with a fixed batch (a static export, batch 1 or more) gets ``max_batch_size: 0``
    and its full dims, and requests carry the batch dimension themselves; a free batch gets
    the batch the artifact was planned for (the engine profile's maximum, or the batch an
    ONNX/OpenVINO export recorded; ``max_batch`` raises it where the graph allows) and dims
    without the batch, with dynamic batching on. Options that cannot work are refused, not
    adjusted: a kind the backend cannot run, a queue delay without a batcher, a batch beyond
    an engine's profile or on a fixed-batch graph.
    """
    schema = schema or load_schema()
    first = model.first
    backend, platform, kinds, default_kind = BACKENDS[first.runtime]
    where = f"model {model.name!r} ({first.path.name}, {first.runtime})"
    kind = kind or default_kind
    if kind not in kinds:
        raise EdgeIRError(f"expected --kind {' or '.join(kinds)} for {where}, found {kind}: Triton's "
                          f"{backend} backend runs only on {'/'.join(k.upper() for k in kinds)} instances")
    if not (isinstance(instances, int) and instances >= 1):
        raise EdgeIRError(f"expected --instances of at least 1, found {instances!r}")
    shapes = first.manifest.input_shapes
    if first.batch_dynamic:
        batch = shapes.max_batch
        if max_batch is not None:
            if first.runtime == "tensorrt" and max_batch > shapes.max_batch:
                raise EdgeIRError(f"expected --max-batch of at most {shapes.max_batch} for {where}: its "
                                  f"engine's profile ends at batch {shapes.max_batch}; found {max_batch} "
                                  "(rebuild the engine with edgeir build-engine --batch N)")
            batch = max_batch
    else:
        batch = 0
        if max_batch is not None:
            raise EdgeIRError(f"expected a graph with a free batch dimension for --max-batch, found {where} "
                              f"with a fixed input {list(first.inputs[0].dims)}: leave --max-batch out or "
                              "re-export with --dynamic")
    if max_queue_delay_us is not None and batch == 0:
        raise EdgeIRError(f"expected a model with dynamic batching for --max-queue-delay-us, found {where} "
                          "with a fixed batch (max_batch_size 0): leave the option out for it")
    if max_queue_delay_us is not None and max_queue_delay_us < 0:
        raise EdgeIRError(f"expected --max-queue-delay-us of at least 0, found {max_queue_delay_us}")

    config = schema.ModelConfig(name=model.name, backend=backend, max_batch_size=batch)
    if platform:
        config.platform = platform
    strip = 1 if batch else 0
    for tensor, repeated in [(t, config.input) for t in first.inputs] + [(t, config.output) for t in first.outputs]:
        repeated.add(name=tensor.name, data_type=schema.DataType.Value(tensor.data_type), dims=tensor.dims[strip:])
    if batch:
        config.dynamic_batching.SetInParent()
        if max_queue_delay_us is not None:
            config.dynamic_batching.max_queue_delay_microseconds = max_queue_delay_us
    config.instance_group.add(count=instances, kind=schema.ModelInstanceGroup.Kind.Value(f"KIND_{kind.upper()}"))
    if len(model.artifacts) > 1:
        for artifact in model.artifacts:
            config.cc_model_filenames[artifact.compute_capability] = f"model_{artifact.compute_capability}.plan"

    # Warm-up at the optimal size, zeros of the input's type: TensorRT's first run at a shape
    # and ONNX Runtime's / OpenVINO's first allocations happen before the first request.
    image = first.inputs[0]
    h, w = shapes.opt
    dims = list(image.dims[strip:])
    if len(dims) >= 2:
        dims[-2:] = [d if d > 0 else side for d, side in zip(dims[-2:], (h, w))]
    warm_batch = min(shapes.max_batch, batch) if batch else 1
    warmup = config.model_warmup.add(name=f"zeros_{'x'.join(map(str, dims))}_batch{warm_batch}",
                                     batch_size=warm_batch)
    sample = warmup.inputs[image.name]
    sample.data_type = schema.DataType.Value(image.data_type)
    sample.dims.extend(dims)
    sample.zero_data = True

    parameters = _parameters(model)
    if first.runtime == "openvino" and batch > 1:
        # Triton's OpenVINO backend fixes the model's batch at max_batch_size and refuses smaller
        # batches unless it may pad them.
        parameters["ENABLE_BATCH_PADDING"] = "YES"
    for key, value in parameters.items():
        config.parameters[key].string_value = value
    return config


def config_text(model: Model, config: Any) -> str:
    """``config.pbtxt``: a comment saying where it came from, then the message in protobuf's
    text format, parsed back before it is written."""
    from google.protobuf import text_format

    first = model.first
    sources = ", ".join(a.path.name if len(model.artifacts) == 1 else f"{a.path.parent.name}/{a.path.name}"
                        for a in model.artifacts)
    lines = [f"# Triton model config written by edgeir triton-repo from {sources}",
             f"# ({first.manifest.target}, {first.manifest.precision}; tensors from {first.tensors_from}).",
             "# Input: NCHW RGB in [0, 1]; sides must follow edgeir.size_rule (pad up, crop back)."]
    if first.runtime == "openvino" and first.manifest.runtime_options.get("INFERENCE_PRECISION_HINT") == "f32":
        lines.append("# Note: the export pins OpenVINO's f32 precision, which Triton's OpenVINO backend has no "
                     "parameter for: on CPUs with bf16 it computes in bf16.")
    text = "\n".join(lines) + "\n" + text_format.MessageToString(config)
    parsed = type(config)()
    text_format.Parse(text, parsed)
    if parsed != config:  # cannot happen with protobuf's own printer; a guard, not a feature
        raise EdgeIRError(f"expected config.pbtxt of {model.name!r} to parse back to itself, found a difference")
    return text
