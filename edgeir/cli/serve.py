"""``edgeir serve``: restore images sent over HTTP, on Ray Serve."""

from __future__ import annotations

import argparse
import sys

from edgeir.cli.common import add_color_option, add_tile_option
from edgeir.data.io import DEFAULT_MAX_PIXELS, MAX_PIXELS_ENV
from edgeir.models.registry import TASKS

DEFAULTS = {"max_batch": 4, "batch_wait_ms": 20.0, "max_body_mb": 50.0, "replica_cpus": 0.25, "max_uploads": 8,
            "read_idle_s": 10.0, "read_timeout_s": 60.0}


def run(args: argparse.Namespace) -> int:
    from edgeir.distributed.serve import (
        ENDPOINTS,
        Served,
        ServeOptions,
        check_port_number,
        serve_model,
    )

    check_port_number(args.port)
    options = ServeOptions(
        tile=args.tile, overlap=args.overlap, color=args.color, device=args.device,
        task=args.task, max_batch=args.max_batch, batch_wait_s=args.batch_wait_ms / 1000.0,
        max_body_mb=args.max_body_mb, format=args.format, max_uploads=args.max_uploads,
        read_idle_s=args.read_idle_s, read_timeout_s=args.read_timeout_s,
    )

    def announce(served: Served) -> None:
        where = ""
        if served.info is not None:
            where = f" with {served.info['backend']} ({served.info['precision']}, {served.info['device']})"
        print(f"edgeir serve: {served.model}{where} at {served.url}", flush=True)
        for endpoint, what in ENDPOINTS.items():
            print(f"  {endpoint:<14} {what}", flush=True)
        print(f"  e.g. curl --data-binary @blurry.png {served.url}/restore -o sharp.png", flush=True)
        print("Ctrl-C to stop.", flush=True)

    serve_model(args.model, announce, options=options, host=args.host, port=args.port,
                replicas=args.replicas, replica_cpus=args.replica_cpus, ray_address=args.ray,
                num_cpus=args.num_cpus)
    print("edgeir serve: stopped", file=sys.stderr)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "serve",
        help="restore images sent over HTTP (Ray Serve)",
        description="Serve a model over HTTP on Ray Serve until Ctrl-C. POST image bytes (PNG, JPEG, "
        "TIFF, WebP, BMP) to /restore and get the restored image back as PNG (16-bit depth and "
        "alpha kept), or in the format ?format=jpg|png|webp|tiff|bmp asks for. GET /healthz "
        "answers 200 'ok' once the model is loaded; GET /info gives the model's manifest, the "
        "serving options and batch counts as JSON. Frames of concurrent requests are restored "
        "together, up to --max-batch at a time, whatever their sizes. Errors are one line: 400 "
        "for a body that is not an image, 408 for one that does not arrive in time (--read-idle-s, "
        "--read-timeout-s), 413 for one over --max-body-mb or an image over the pixel limit, 422 "
        "for a frame the model cannot take (pass --tile) or a ?format= that would drop its alpha or "
        "16-bit depth, 503 when --max-uploads are in progress. Images are refused from their header, "
        f"before they are decoded, over {DEFAULT_MAX_PIXELS} pixels (8192x8192: an 8K frame twice over); "
        f"the environment variable {MAX_PIXELS_ENV} sets another limit, for edgeir run too.",
    )
    parser.add_argument("model", help="model file (.onnx with its manifest, .xml, a checkpoint...) or "
                        "convir-s, convir-b, convir-l, as for edgeir run; with --ray it must exist "
                        "at this path on the cluster's nodes")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=8000, help="HTTP port, 1 to 65535 (default: 8000)")
    parser.add_argument("--replicas", type=int, default=1,
                        help="model copies, each loading the model once (default: 1)")
    parser.add_argument("--max-batch", type=int, default=DEFAULTS["max_batch"],
                        help=f"most frames restored together (default: {DEFAULTS['max_batch']})")
    parser.add_argument("--batch-wait-ms", type=float, default=DEFAULTS["batch_wait_ms"],
                        help="how long a batch waits for more frames before it runs "
                        f"(default: {DEFAULTS['batch_wait_ms']:g})")
    parser.add_argument("--max-body-mb", type=float, default=DEFAULTS["max_body_mb"],
                        help=f"larger request bodies get 413 (default: {DEFAULTS['max_body_mb']:g})")
    parser.add_argument("--max-uploads", type=int, default=DEFAULTS["max_uploads"],
                        help="restore requests one replica holds at once; more get 503 at once. Each holds "
                        "at most --max-body-mb and one frame, which bounds memory "
                        f"(default: {DEFAULTS['max_uploads']})")
    parser.add_argument("--read-idle-s", type=float, default=DEFAULTS["read_idle_s"],
                        help="a request body that pauses longer gets 408, so a stalled client frees its "
                        f"slot (default: {DEFAULTS['read_idle_s']:g})")
    parser.add_argument("--read-timeout-s", type=float, default=DEFAULTS["read_timeout_s"],
                        help="a request body that takes longer in all gets 408 "
                        f"(default: {DEFAULTS['read_timeout_s']:g})")
    parser.add_argument("--format", default="png", choices=["png", "jpg", "webp", "tiff", "bmp"],
                        help="response format when the request has no ?format= (default: png)")
    add_tile_option(parser)
    parser.add_argument("--overlap", type=int, default=32, help="tile overlap in pixels (default: 32)")
    add_color_option(parser)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: best available)")
    parser.add_argument("--task", choices=list(TASKS), default=None,
                        help="task of a checkpoint (a checkpoint file cannot say it)")
    parser.add_argument("--ray", metavar="ADDRESS", default=None,
                        help="join a running Ray cluster (auto, or ray://HOST:PORT) instead of starting "
                        "a local Ray; a cluster already running Serve keeps its own host and port")
    parser.add_argument("--num-cpus", type=int, default=None,
                        help="CPUs of the local Ray (default: all of this machine's)")
    parser.add_argument("--replica-cpus", type=float, default=DEFAULTS["replica_cpus"],
                        help="CPUs Ray reserves per replica; the runtime still uses its own threads "
                        f"(default: {DEFAULTS['replica_cpus']:g})")
    parser.set_defaults(run=run)
