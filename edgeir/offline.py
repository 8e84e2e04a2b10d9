"""Offline and private: no edgeir command sends anything over the network or writes outside
its outputs and caches, and a library's forked child can never hang edgeir.

Applied when ``edgeir`` is imported (``edgeir/__init__.py``), which every entry point does
first: the ``edgeir`` command, ``import edgeir`` in a program, the bench's fresh processes
and Ray's workers (both import edgeir to unpickle what they run). Earlier is not possible and
later is too late: the libraries read their switches when they are imported (albumentations,
huggingface_hub) or first used (ONNX Runtime, Ray, OpenVINO's telemetry), and a forked child
can be made at any moment after that.

What the libraries of the ``[all]`` install would do otherwise (found in their source and
seen on a machine without network, issue 36):

- OpenVINO's model conversion and NNCF send Google Analytics events through
  ``openvino_telemetry`` unless ``~/intel/openvino_telemetry`` holds ``0`` or ``CI=true``, and
  write a tracking id to ``~/intel/openvino_ga_cid``; each event is sent by a process forked
  from a thread. It has no switch of its own in the environment, so the one decision it
  makes when nobody has chosen ("no consent file") becomes a no.
- ONNX Runtime keeps a device id and unsent events under ``~/.cache/Microsoft`` and uploads
  them (``ORT_DISABLE_TELEMETRY``).
- albumentations asks PyPI for a newer version on import (``NO_ALBUMENTATIONS_UPDATE``).
- Ray reports usage statistics from ``ray.init`` (``RAY_USAGE_STATS_ENABLED``).
- huggingface_hub adds telemetry to Hub requests (``HF_HUB_DISABLE_TELEMETRY``).

ModelOpt, onnxscript, ExecuTorch, coremltools, pnnx and tritonclient send nothing by
themselves; torch and matplotlib cache under ``~/.cache``, but matplotlib also makes an empty
``~/.config/matplotlib`` on import to look for a matplotlibrc in it (``MPLCONFIGDIR``).

A user's own choice wins: a library's switch set in the environment is left as it is
(``RAY_USAGE_STATS_ENABLED=1``), as are ``ray enable-usage-stats`` and OpenVINO's
``opt_in_out --opt_in``; ``EDGEIR_ALLOW_TELEMETRY=1`` leaves every library at its own default.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec

ALLOW = "EDGEIR_ALLOW_TELEMETRY"
"""Set to 1 to leave every library's telemetry and update checks at the library's default
(the SIGTERM rule for forked children and matplotlib's config folder still apply: they send
nothing)."""

QUIET = {
    "ORT_DISABLE_TELEMETRY": "1",
    "NO_ALBUMENTATIONS_UPDATE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
}
"""Each library's own switch, set only where the environment does not set it already."""

OPENVINO_CONSENT = "openvino_telemetry.utils.opt_in_checker"

_applied = False


def apply() -> None:
    """Once per process: children forked by any library start without the parent's Python
    SIGTERM handler, and (unless ``EDGEIR_ALLOW_TELEMETRY=1``) every library stays quiet."""
    global _applied
    if _applied:
        return
    _applied = True
    if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
        os.register_at_fork(before=_note_forking_thread, after_in_child=default_sigterm)
    keep_matplotlib_in_its_cache()
    if os.environ.get(ALLOW) == "1":
        return
    for name, value in QUIET.items():
        if name == "RAY_USAGE_STATS_ENABLED" and ray_stats_chosen():
            continue
        os.environ.setdefault(name, value)
    after_import(OPENVINO_CONSENT, decline_unless_consented)


EDGEIR_HANDLER = "_edgeir_signal_handler"
"""The attribute that marks a signal handler as edgeir's (``mark_handler``)."""

_forked_from_thread = False


def mark_handler(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``handler`` as edgeir's, so that forked children do not inherit it."""
    setattr(handler, EDGEIR_HANDLER, True)
    return handler


def _note_forking_thread() -> None:
    global _forked_from_thread
    _forked_from_thread = threading.current_thread() is not threading.main_thread()


def default_sigterm() -> None:
    """In a forked child: SIGTERM back to the default action where the parent had edgeir's
    Python handler (``edgeir`` raises ``Terminated``, ``serve`` stops Serve), or any Python
    handler when a library forked from a thread of its own. A Python handler runs only
    between bytecodes of the main thread; a child stuck in C (a ``getaddrinfo`` deadlocked
    by a fork from a thread) would ignore the SIGTERM that ``multiprocessing`` sends its
    daemonic children at exit, and the parent would wait for it forever. A program's own
    workers, forked from its main thread, keep the program's own handler."""
    handler = signal.getsignal(signal.SIGTERM)
    if callable(handler) and (_forked_from_thread or getattr(handler, EDGEIR_HANDLER, False)):
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def keep_matplotlib_in_its_cache() -> None:
    """Where the user has no matplotlib config folder (so no matplotlibrc of theirs to
    read), matplotlib looks in its cache folder instead of creating an empty one in
    ``~/.config``. Linux only: elsewhere matplotlib's folders are not the XDG ones."""
    home = os.path.expanduser("~")
    if "MPLCONFIGDIR" in os.environ or not sys.platform.startswith("linux") or home == "~":
        return
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path(home, ".config"), "matplotlib")
    if not config.exists():
        cache = os.environ.get("XDG_CACHE_HOME") or Path(home, ".cache")
        os.environ["MPLCONFIGDIR"] = str(Path(cache, "matplotlib"))


def ray_stats_chosen() -> bool:
    """Whether ``ray enable-usage-stats`` / ``disable-usage-stats`` recorded a choice, which
    Ray's environment variable would override."""
    path = Path(os.environ.get("RAY_USAGE_STATS_CONFIG_PATH") or os.path.expanduser("~/.ray/config.json"))
    if not path.is_file():
        return False
    import json

    try:
        return "usage_stats" in json.loads(path.read_text())
    except (OSError, ValueError, TypeError):
        return False


def decline_unless_consented(module: ModuleType) -> None:
    """openvino_telemetry: no consent file means no (it means yes for OpenVINO's converter
    and NNCF); a file written by ``opt_in_out --opt_in`` or ``--opt_out`` still decides. A
    release without these names is left as it is (and fails tests/reliability/test_offline.py)
    rather than failing every OpenVINO export."""
    checker, results = getattr(module, "OptInChecker", None), getattr(module, "ConsentCheckResult", None)
    if checker is None or results is None or not hasattr(results, "NO_FILE"):
        return
    check = checker.check

    def check_consent(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = check(self, *args, **kwargs)
        return results.DECLINED if result is results.NO_FILE else result

    checker.check = check_consent


class _AfterImport:
    """A ``sys.meta_path`` finder that calls ``then(module)`` once ``name`` has been executed,
    when something imports it: importing it here would cost every edgeir command its import
    time (and importlib.abc alone costs ``import edgeir`` half its time)."""

    def __init__(self, name: str, then: Callable[[ModuleType], None]) -> None:
        self.name, self.then = name, then
        self.done = False
        """Set once the module is found: the finder stays in ``sys.meta_path`` (removing it
        while another thread's import walks the list could make that import skip a finder)
        and answers nothing more."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if fullname != self.name or self.done:
            return None
        import importlib.util

        self.done = True  # once, and not for the find_spec below
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        execute, then = spec.loader.exec_module, self.then

        def exec_module(module: ModuleType) -> None:
            execute(module)
            then(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def after_import(name: str, then: Callable[[ModuleType], None]) -> None:
    """``then(module)`` now if ``name`` is imported already, else right after its import."""
    module = sys.modules.get(name)
    if module is not None:
        then(module)
    else:
        sys.meta_path.insert(0, _AfterImport(name, then))
