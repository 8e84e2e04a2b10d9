"""A recording double of the ``tensorrt`` module, TensorRT 10 or 11 flavoured.

It records the calls edgeir's engine builder makes and returns placeholder bytes so the
builder's bookkeeping (files, manifest) can be checked. It builds nothing, and no test
treats its output as an engine.
"""

from __future__ import annotations

import enum
from types import SimpleNamespace


class _Recorder:
    def __init__(self, calls, name):
        self._calls, self._name = calls, name

    def __getattr__(self, attribute):
        def record(*args, **kwargs):
            self._calls.append((f"{self._name}.{attribute}", args))
        return record


def make(version: str, parse_ok: bool = True, build_ok: bool = True):
    calls: list = []
    major = int(version.split(".")[0])

    class Flag(enum.IntEnum):
        if major == 10:
            FP16 = 0
            INT8 = 1

    class Cache:
        def serialize(self):
            calls.append(("cache.serialize", ()))
            return b"timing-cache"

    class Config(_Recorder):
        def create_timing_cache(self, data):
            calls.append(("config.create_timing_cache", (data,)))
            return Cache()

    class Builder(_Recorder):
        def __init__(self, logger):
            super().__init__(calls, "builder")
            calls.append(("Builder", ()))

        def create_network(self, flags):
            calls.append(("builder.create_network", (flags,)))
            return SimpleNamespace(name="network")

        def create_builder_config(self):
            return Config(calls, "config")

        def create_optimization_profile(self):
            return _Recorder(calls, "profile")

        def build_serialized_network(self, network, config):
            calls.append(("builder.build_serialized_network", ()))
            return b"placeholder, not an engine" if build_ok else None

    class OnnxParser:
        num_errors = 0 if parse_ok else 1

        def __init__(self, network, logger):
            calls.append(("OnnxParser", ()))

        def parse_from_file(self, path):
            calls.append(("parser.parse_from_file", (path,)))
            return parse_ok

        def get_error(self, index):
            return "In node 12 (importCol2Im): UNSUPPORTED_NODE"

    class Logger:
        WARNING = 2

        def __init__(self, level):
            pass

    module = SimpleNamespace(
        __version__=version, Builder=Builder, OnnxParser=OnnxParser, Logger=Logger, BuilderFlag=Flag,
        MemoryPoolType=SimpleNamespace(WORKSPACE="WORKSPACE"), calls=calls,
    )
    return module
