"""Ray Serve: one ``Restorer`` per replica behind HTTP (``edgeir serve``).

``POST /restore`` takes image bytes (PNG, JPEG, TIFF, WebP, BMP) and answers with the
restored image, PNG unless ``?format=`` or the server's default asks for another (PNG
keeps 16-bit depth and alpha); ``GET /healthz`` and ``GET /info`` say whether and what it
serves. Frames of concurrent requests are batched with ``serve.batch`` and run as one
``Restorer.restore_batch`` per frame size, so a batch of mixed sizes works and a size the
model refuses fails only its own requests. Clients get one-line reasons: 400 for a body
that is not an image, 408 for a body that does not arrive in time, 413 over the size or
pixel limit, 422 for a frame the model cannot take or a format that cannot hold it, 503
when a replica already holds as many uploads as it may.

Slow clients cannot stall it: a body is read with a pause limit between chunks and a
deadline for the whole, a replica holds at most ``max_uploads`` restore requests (each
with at most ``max_body_mb`` of body and one frame of at most ``max_pixels``, so its memory
is bounded), and Ray lets it take more requests than that, so that ``/healthz`` and
``/info`` never queue behind uploads. (Ray's own ``request_timeout_s`` is no defence: it
ends every request, restoring ones included, and a client lifts it with its
``x-request-timeout-seconds`` header.)
Ray is imported inside functions (the ``ray`` extra), so ``import edgeir`` never needs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PureWindowsPath
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeir.data.io import max_image_pixels
from edgeir.distributed.cluster import import_ray, ray_cluster
from edgeir.errors import EdgeIRError
from edgeir.offline import mark_handler

if TYPE_CHECKING:
    from edgeir.runtimes.restorer import Restorer

log = logging.getLogger("edgeir")

APP_NAME = "edgeir"
RESTORE_PATH, HEALTH_PATH, INFO_PATH = "/restore", "/healthz", "/info"
ENDPOINTS = {
    f"POST {RESTORE_PATH}": "image bytes in, the restored image out (?format=png|jpg|webp|tiff|bmp)",
    f"GET {HEALTH_PATH}": '200 "ok" once the model is loaded',
    f"GET {INFO_PATH}": "the model's facts, the serving options and batch counts (JSON)",
}
METHODS = {RESTORE_PATH: "POST", HEALTH_PATH: "GET", INFO_PATH: "GET"}
FORMATS = {"png": ".png", "jpg": ".jpg", "jpeg": ".jpg", "webp": ".webp", "tif": ".tiff", "tiff": ".tiff",
           "bmp": ".bmp"}
CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".webp": "image/webp", ".tiff": "image/tiff",
                 ".bmp": "image/bmp"}
BATCH_HEADER = "X-Edgeir-Batch"
"""Response header: how many frames ran in the batch that restored this one."""
QUICK_REQUESTS = 16
"""Requests a replica takes beyond ``max_uploads``: ``/healthz``, ``/info`` and refusals,
which answer at once, so none of them waits for a slot behind slow uploads."""


def import_serve() -> Any:
    """``ray.serve``, or the install line: a device install has no Ray."""
    import_ray("edgeir serve")
    from ray import serve

    return serve


@dataclass(frozen=True)
class ServeOptions:
    """How each replica restores and answers; checked where it is made (in the driver),
    so a bad option fails before Ray starts."""

    tile: int | None = None
    overlap: int = 32
    color: str = "rgb"
    device: str | None = None
    task: str | None = None
    max_batch: int = 4
    batch_wait_s: float = 0.02
    max_body_mb: float = 50.0
    format: str = "png"
    max_uploads: int = 8
    """Restore requests one replica holds at once, from the first byte read to the answer
    (a decode or encode under way included, even for a client gone); more get 503 at once.
    Each holds at most ``max_body_mb`` of body and one frame of at most ``max_pixels``: with
    the defaults 8 x (50 MB + 200 MB for an RGB frame at the pixel limit) = 2 GB at worst,
    beside the model, which an 8 GB device holds."""
    read_idle_s: float = 10.0
    """The longest pause in a request body before it is answered 408."""
    read_timeout_s: float = 60.0
    """The most a whole request body may take (50 MB at 1 MB/s fits) before it is answered 408."""
    max_pixels: int = field(default_factory=max_image_pixels)
    """Images over this many pixels are refused from their header with 413 (by default
    ``EDGEIR_MAX_IMAGE_PIXELS`` where the driver runs, else ``edgeir.data.io.DEFAULT_MAX_PIXELS``)."""

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise EdgeIRError(f"expected max_batch >= 1, found {self.max_batch}")
        if not self.batch_wait_s >= 0:
            raise EdgeIRError(f"expected batch_wait_s >= 0, found {self.batch_wait_s}")
        if not self.max_body_mb > 0:
            raise EdgeIRError(f"expected max_body_mb > 0, found {self.max_body_mb}")
        if self.max_uploads < 1:
            raise EdgeIRError(f"expected max_uploads >= 1, found {self.max_uploads}")
        for name in ("read_idle_s", "read_timeout_s"):
            if not getattr(self, name) > 0:
                raise EdgeIRError(f"expected {name} > 0, found {getattr(self, name)}")
        if self.max_pixels < 1:
            raise EdgeIRError(f"expected max_pixels >= 1, found {self.max_pixels}")
        if self.format.lower() not in FORMATS:
            raise EdgeIRError(f"expected a response format ({', '.join(FORMATS)}), found {self.format!r}")

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 2**20)


def make_restorer(model: str | Path, options: ServeOptions) -> Restorer:
    """The Restorer ``edgeir run`` would build with these options; it batches up to
    ``max_batch`` frames per call (a static-batch model keeps its own batch)."""
    from edgeir.runtimes import load
    from edgeir.runtimes.restorer import Restorer

    runtime = load(model, options.device, **({"task": options.task} if options.task else {}))
    try:
        return Restorer(runtime, tile=options.tile, overlap=options.overlap,
                        batch=runtime.max_batch or options.max_batch, color=options.color)
    except BaseException:
        runtime.close()
        raise


def restore_grouped(restorer: Restorer, frames: Sequence[np.ndarray]) -> list[np.ndarray | EdgeIRError]:
    """Frames of any sizes, restored in order with one ``restore_batch`` per size (it takes
    one size); a size the model refuses gives its error for those frames only."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, frame in enumerate(frames):
        groups.setdefault(tuple(frame.shape[:2]), []).append(i)
    results: list[np.ndarray | EdgeIRError] = [EdgeIRError("not restored")] * len(frames)
    for indices in groups.values():
        try:
            restored: Sequence[np.ndarray | EdgeIRError] = restorer.restore_batch([frames[i] for i in indices])
        except EdgeIRError as exc:
            restored = [exc] * len(indices)
        for i, result in zip(indices, restored):
            results[i] = result
    return results


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def line(cls, status: int, text: str, **headers: str) -> Reply:
        """A one-line reason: what was expected and what was found, never a traceback."""
        first = text.strip().splitlines()[0] if text.strip() else "error"
        return cls(status, (first + "\n").encode(), headers=headers)


class Refused(Exception):
    """A request answered with ``reply`` before it could be restored."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.body.decode().strip())
        self.reply = reply


async def finish_in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a worker thread, which the replica's event loop does not wait
    for. A thread cannot be stopped: when the request is cancelled (its client gone), this
    still waits for the thread before the cancellation goes on, so the request's upload slot
    is freed only once its decode or encode has let go of its memory."""
    work = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(work)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await work
        raise


async def read_body(request: Any, options: ServeOptions) -> bytes:
    """The request body; :class:`Refused` with 413 once it passes ``max_body_mb`` (read no
    further), with 408 after a pause of ``read_idle_s`` between chunks or ``read_timeout_s``
    in all: a client that declares a large body and then sends nothing holds its upload slot
    for seconds, not until it closes."""
    from starlette.requests import ClientDisconnect

    declared = request.headers.get("content-length", "")
    too_large = Reply.line(413, f"expected a body of at most {options.max_body_mb:g} MB "
                                "(edgeir serve --max-body-mb), found more")
    if declared.isdigit() and int(declared) > options.max_body_bytes:
        raise Refused(too_large)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + options.read_timeout_s
    chunks, body = request.stream().__aiter__(), bytearray()
    while True:
        left = deadline - loop.time()
        try:
            chunk = await asyncio.wait_for(chunks.__anext__(), max(0.0, min(options.read_idle_s, left)))
        except StopAsyncIteration:
            return bytes(body)
        except asyncio.TimeoutError:
            found = f"{len(body)} of {declared or 'an undeclared number of'} bytes and then " + (
                f"{options.read_idle_s:g} s of silence" if left > options.read_idle_s else "the deadline")
            raise Refused(Reply.line(408, f"expected the body within {options.read_timeout_s:g} s with no pause "
                                          f"over {options.read_idle_s:g} s (edgeir serve --read-timeout-s, "
                                          f"--read-idle-s), found {found}", Connection="close")) from None
        except ClientDisconnect:
            raise Refused(Reply.line(400, f"expected the whole body, found the client gone after {len(body)} "
                                          "bytes")) from None
        body += chunk
        if len(body) > options.max_body_bytes:
            raise Refused(too_large)


class RestoreServer:
    """The Serve deployment. The model loads in the constructor, so a replica takes
    requests (and ``/healthz`` answers) only once it can restore."""

    def __init__(self, model: str, options: ServeOptions) -> None:
        from ray import serve

        self.model, self.options = model, options
        self.restorer = make_restorer(model, options)
        self.batch_sizes: Counter[int] = Counter()
        self.requests = 0
        self.uploads = 0
        """Restore requests this replica holds now (at most ``options.max_uploads``)."""
        self._batched = serve.batch(max_batch_size=options.max_batch,
                                    batch_wait_timeout_s=options.batch_wait_s)(self._restore_batch)

    async def _restore_batch(self, frames: list[np.ndarray]) -> list[tuple[np.ndarray | EdgeIRError, int]]:
        self.batch_sizes[len(frames)] += 1
        # In a thread: the replica's event loop keeps queueing requests and answering
        # /healthz while the model runs (Restorer is thread-safe).
        results = await asyncio.to_thread(restore_grouped, self.restorer, frames)
        return [(result, len(frames)) for result in results]

    async def __call__(self, request: Any) -> Any:
        from starlette.responses import Response

        try:
            reply = await self.handle(request)
        except Exception as exc:  # a bug: one line to the client, the traceback to the replica log
            log.exception("edgeir serve: %s %s failed", request.method, request.url.path)
            reply = Reply.line(500, f"internal error: {type(exc).__name__}: {exc}")
        return Response(reply.body, status_code=reply.status, media_type=reply.content_type,
                        headers=reply.headers)

    async def handle(self, request: Any) -> Reply:
        path = request.url.path.rstrip("/") or "/"
        if path not in METHODS:
            return Reply.line(404, f"expected one of {', '.join(ENDPOINTS)}, found {request.method} {path}")
        if request.method != METHODS[path]:
            return Reply.line(405, f"expected {METHODS[path]} {path}, found {request.method}",
                              Allow=METHODS[path])
        if path == HEALTH_PATH:
            return Reply.line(200, "ok")
        if path == INFO_PATH:
            return Reply(200, json.dumps(self.info(), default=str).encode(), "application/json")
        return await self.restore(request)

    async def restore(self, request: Any) -> Reply:
        """A restore request in one of ``max_uploads`` slots, or 503 at once; the slot is
        freed however the request ends (answered, refused, cancelled by a client gone)."""
        if self.uploads >= self.options.max_uploads:
            return Reply.line(503, f"expected at most {self.options.max_uploads} uploads at once (edgeir serve "
                                   f"--max-uploads), found as many in progress: try again shortly",
                              **{"Retry-After": "1"})
        self.uploads += 1
        try:
            return await self._restore(request)
        except Refused as refused:
            return refused.reply
        finally:
            self.uploads -= 1

    async def _restore(self, request: Any) -> Reply:
        from edgeir.data.io import ImageTooLarge, check_format_holds, decode_image, encode_image

        name = request.query_params.get("format", self.options.format).lower()
        if name not in FORMATS:
            return Reply.line(400, f"expected ?format= one of {', '.join(FORMATS)}, found {name!r}")
        suffix = FORMATS[name]
        body = await read_body(request, self.options)
        try:
            frame = await finish_in_thread(decode_image, body, self.options.max_pixels, "the request body")
        except ImageTooLarge as exc:
            return Reply.line(413, str(exc))
        except EdgeIRError as exc:
            return Reply.line(400, str(exc))
        try:  # before the model runs: the restored frame keeps the depth and alpha of this one
            check_format_holds(frame, suffix)
        except EdgeIRError as exc:
            return Reply.line(422, f"{exc}: ask for ?format=png")
        self.requests += 1
        restored, batch = await self._batched(frame)
        if isinstance(restored, EdgeIRError):
            return Reply.line(422, str(restored))
        try:
            data = await finish_in_thread(encode_image, restored, suffix)
        except EdgeIRError as exc:
            return Reply.line(422, str(exc))
        return Reply(200, data, CONTENT_TYPES[suffix], {BATCH_HEADER: str(batch)})

    def info(self) -> dict[str, Any]:
        manifest = self.restorer.runtime.info.manifest
        return without_local_paths({
            "model": self.model,
            "restorer": self.restorer.info,
            "manifest": manifest.to_dict() if manifest is not None else None,
            "serving": {**asdict(self.options), "endpoints": ENDPOINTS},
            "stats": {  # of the replica that answered
                "requests": self.requests,
                "uploads_now": self.uploads,
                "frames": sum(size * count for size, count in self.batch_sizes.items()),
                "batches": sum(self.batch_sizes.values()),
                "largest_batch": max(self.batch_sizes, default=0),
                "batch_sizes": {str(size): count for size, count in sorted(self.batch_sizes.items())},
            },
        })


_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/\\])(?:[A-Za-z]:)?[/\\][^\s'\"]+")
"""An absolute path inside a string (``/home/alice/calib``, ``C:\\data``), not a ratio (``1/4``)
or a URL; ``PureWindowsPath`` takes its last name whichever separator it uses."""


def without_local_paths(value: Any) -> Any:
    """What ``/info`` tells clients, with every absolute path (the model's, the weights' of
    the machine that exported, a calibration folder) cut to its last name: where files lie
    on the server is not the clients' business."""
    if isinstance(value, str):
        return _ABSOLUTE_PATH.sub(lambda found: PureWindowsPath(found.group()).name or found.group(), value)
    if isinstance(value, dict):
        return {key: without_local_paths(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_local_paths(item) for item in value]
    return value


def build_app(model: str | Path, options: ServeOptions | None = None, *, replicas: int = 1,
              replica_cpus: float = 0.25, **option_values: Any) -> Any:
    """The Serve application, not yet running (``serve.run(app)``, or :func:`serving`).

    ``replica_cpus`` is what Ray reserves per replica, not what it may use (ONNX Runtime
    takes every core regardless): a small fraction so that replicas never starve Ray's
    other work on a small machine."""
    serve = import_serve()
    if options is not None and option_values:
        raise EdgeIRError(f"expected options or keyword options, found both ({', '.join(option_values)})")
    options = options or ServeOptions(**option_values)
    if replicas < 1:
        raise EdgeIRError(f"expected at least 1 replica, found {replicas}")
    if not replica_cpus >= 0:
        raise EdgeIRError(f"expected replica_cpus >= 0, found {replica_cpus}")
    path = Path(model)  # replicas may run elsewhere in their own directory: pass an absolute path
    reference = str(path.resolve()) if path.exists() else str(model)
    deployment = serve.deployment(
        RestoreServer, name="restorer", num_replicas=replicas, ray_actor_options={"num_cpus": replica_cpus},
        max_ongoing_requests=options.max_uploads + QUICK_REQUESTS,
    )
    return deployment.bind(reference, options)


@dataclass(frozen=True)
class Served:
    url: str
    model: str
    info: dict[str, Any] | None
    """``Restorer.info`` from the check in the driver; None when the model is only on the cluster."""


def check_port_number(port: Any) -> int:
    """``port`` as an HTTP port number, 1 to 65535 (0 would make the OS choose one that no
    client is told)."""
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise EdgeIRError(f"expected a port from 1 to 65535 (edgeir serve --port), found {port!r}")
    return port


def _check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the HTTP server will
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise EdgeIRError(f"expected a free port {port} on {host}, found it unusable: "
                              f"{exc.strerror}") from None


@mark_handler
def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def serving(model: str | Path, options: ServeOptions | None = None, *, host: str = "127.0.0.1",
            port: int = 8000, replicas: int = 1, replica_cpus: float = 0.25, ray_address: str | None = None,
            num_cpus: int | None = None, **option_values: Any) -> Iterator[Served]:
    """Serve while the block runs. Without ``ray_address`` a local Ray is started (and
    stopped with Serve at the end); with one (``auto``, ``ray://HOST:PORT``) the cluster is
    joined and only this application is deleted at the end. A Ray already initialised in
    this process is used and left running. The model is loaded once here first, so a bad
    path or option fails in one line before Ray starts (skipped for a cluster when the
    path exists only there)."""
    serve = import_serve()
    check_port_number(port)
    options = options or ServeOptions(**option_values)
    info = None
    if ray_address is None or Path(model).exists():
        with make_restorer(model, options) as restorer:
            info = restorer.info
    with ray_cluster(ray_address, num_cpus, "edgeir serve", lambda: _check_port(host, port)) as connection:
        app = build_app(model, options, replicas=replicas, replica_cpus=replica_cpus)
        try:
            serve.start(http_options={"host": host, "port": port})
            try:
                serve.run(app, name=APP_NAME, route_prefix="/")
            except RuntimeError as exc:  # the replicas could not start: the reason is its first line
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise EdgeIRError(f"expected Ray Serve to start {model}, found: {reason}") from None
            shown = socket.gethostname() if host in ("0.0.0.0", "::") else host
            yield Served(f"http://{f'[{shown}]' if ':' in shown else shown}:{port}", str(model), info)
        finally:
            if connection.started:
                serve.shutdown()
            else:
                with contextlib.suppress(Exception):  # the cluster may be gone already
                    serve.delete(APP_NAME)


def serve_model(model: str | Path, announce: Callable[[Served], None] | None = None, **kwargs: Any) -> None:
    """Serve until Ctrl-C or SIGTERM, then stop Serve (and the local Ray) and return.
    ``announce`` is called once the model is loaded and the endpoints answer; ``kwargs`` as
    :func:`serving`."""
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
    try:
        with serving(model, **kwargs) as served:
            (announce or (lambda s: log.info("serving %s at %s", s.model, s.url)))(served)
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
