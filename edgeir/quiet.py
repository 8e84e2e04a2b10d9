"""Keep a quantization library's chatter off stdout and out of sight.

NNCF and NVIDIA ModelOpt log at INFO by default (thousands of lines for ConvIR: every
node they skip or convert) and write logs and progress to stdout, which edgeir keeps for
results (``--json``). Inside ``quietly``, their loggers stop below WARNING unless edgeir's
own logger is at DEBUG, and everything they print goes to stderr.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

log = logging.getLogger("edgeir")


def _family(name: str) -> list[logging.Logger]:
    names = [n for n in logging.root.manager.loggerDict if n == name or n.startswith(name + ".")]
    return [logging.getLogger(n) for n in sorted({name, *names})]


@contextlib.contextmanager
def quietly(logger_name: str, floor: int = logging.WARNING) -> Iterator[None]:
    """``floor``: the lowest level still shown (ERROR for libraries whose warnings are
    expected noise, such as coremltools' on Linux)."""
    loggers = _family(logger_name)
    levels = [logger.level for logger in loggers]
    if log.getEffectiveLevel() > logging.DEBUG:
        for logger, level in zip(loggers, levels):
            logger.setLevel(max(level, floor))
    moved = [h for logger in loggers for h in logger.handlers
             if isinstance(h, logging.StreamHandler) and h.stream is sys.stdout]
    for handler in moved:
        handler.setStream(sys.stderr)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        for handler in moved:
            handler.setStream(sys.stdout)


@contextlib.contextmanager
def root_logging_kept() -> Iterator[None]:
    """Undo what an import does to the root logger: some libraries (ExecuTorch) add a
    handler to it when imported, which would print every edgeir message twice."""
    handlers, level = list(logging.root.handlers), logging.root.level
    try:
        yield
    finally:
        logging.root.handlers[:] = handlers
        logging.root.setLevel(level)


@contextlib.contextmanager
def executorch_import() -> Iterator[None]:
    """Import ExecuTorch (and torchao, which it imports) without their import-time chatter:
    torchao's CUDA kernels that cannot load on a CPU machine, a deprecation in torch's
    pytree, the experimental-API warning of the Python runtime, and the root-logger
    handler they add."""
    import warnings

    with quietly("torchao", logging.ERROR), quietly("torch.utils._pytree", logging.ERROR), \
            root_logging_kept(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
