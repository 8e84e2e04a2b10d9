"""``edgeir triton-repo``: write NVIDIA Triton model folders for exported artifacts."""

from __future__ import annotations

import argparse
from pathlib import Path

from edgeir.cli.common import add_out_option, setup_logging


def parse_capability(text: str) -> tuple[str, str]:
    """``GPU=X.Y`` for argparse: the GPU name as the engine's manifest records it."""
    gpu, sep, capability = text.rpartition("=")
    if not sep or not gpu.strip() or not capability.strip():
        raise argparse.ArgumentTypeError(f"expected GPU=X.Y (e.g. 'Orin (nvgpu)=8.7'), found {text!r}")
    return gpu.strip(), capability.strip()


def run(args: argparse.Namespace) -> int:
    from edgeir.distributed.triton import write_triton_repo
    from edgeir.distributed.triton.folders import CONFIG, VERSION

    setup_logging()
    folders = write_triton_repo(
        args.artifacts, args.out, args.name, instances=args.instances, kind=args.kind,
        max_batch=args.max_batch, max_queue_delay_us=args.max_queue_delay_us,
        compute_capabilities=dict(args.compute_capability or []), overwrite=args.overwrite,
    )
    for folder in folders:  # what edgeir wrote there, not the user's other files
        files = sorted([f"{VERSION}/{p.name}" for p in (folder / VERSION).iterdir()] + [CONFIG])
        print(f"{folder}: {', '.join(files)}")
    print(f"serve with: tritonserver --model-repository {Path(args.out)}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "triton-repo",
        help="write NVIDIA Triton model folders (config.pbtxt + 1/model.*) for exported artifacts",
        description="Write REPO/NAME/config.pbtxt and REPO/NAME/1/model.onnx | model.plan | "
        "model.xml+model.bin for edgeir artifacts of ONNX Runtime (.onnx), TensorRT (.engine) or "
        "OpenVINO (.xml), each with its manifest beside it. The config is built with Triton's own "
        "schema (tritonclient's model_config_pb2): input/output names and types read from the "
        "graph, -1 for free sides, max_batch_size from the artifact's batch range (0 and full dims "
        "for a fixed batch), dynamic batching, an instance group, a warm-up at the optimal size, "
        "and the manifest's facts (layout, value range, size rule, measured PSNR, precision, "
        "weights) as edgeir.* parameters. Several TensorRT engines of one model built on GPUs of "
        "different compute capabilities share one folder (1/model_<cc>.plan, cc_model_filenames). "
        'Needs pip install "edgeir[triton]".',
    )
    parser.add_argument("artifacts", nargs="+", metavar="ARTIFACT",
                        help="exported .onnx, .engine or .xml files (each with NAME.manifest.json beside it)")
    add_out_option(parser, "the model repository folder (created; other models in it are left alone)",
                   dest="out", renamed=False, type=Path, required=True, metavar="REPO")
    parser.add_argument("--name",
                        help="model name (one artifact, or engines of one model for several GPUs; "
                        "default: each file's name without its suffix, with other characters than "
                        "letters, digits, _ and - replaced by _)")
    parser.add_argument("--instances", type=int, default=1, metavar="N",
                        help="model instances per device (instance_group count; default: 1)")
    parser.add_argument("--kind", choices=["cpu", "gpu", "auto"],
                        help="where instances run (default: gpu for TensorRT, cpu for OpenVINO and ONNX "
                        "Runtime); TensorRT takes only gpu, OpenVINO only cpu")
    parser.add_argument("--max-batch", type=int, metavar="N",
                        help="max_batch_size for graphs with a free batch dimension (default: the batch "
                        "the export recorded; at most the engine profile's for TensorRT)")
    parser.add_argument("--max-queue-delay-us", type=int, metavar="US",
                        help="dynamic batching: how long a request may wait for others (microseconds; "
                        "default: Triton's, 0)")
    parser.add_argument("--compute-capability", type=parse_capability, action="append", metavar="GPU=X.Y",
                        help="compute capability of a GPU named in engine manifests, for engines of "
                        "several GPUs built by edgeir versions that did not record it and whose "
                        "name edgeir does not know (repeatable)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace what edgeir wrote in existing model folders of these names: version 1/ "
                        "and config.pbtxt while it is unchanged (an edited config is refused, not replaced); "
                        "other versions and files stay")
    parser.set_defaults(run=run)
