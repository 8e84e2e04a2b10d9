"""The manifest: what an exported artifact is and how to feed it.

Written by ``edgeir.export`` beside every artifact (``NAME.manifest.json``), read by
``edgeir.runtimes.load``. Runtimes depend on this module, never on ``export``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edgeir.errors import EdgeIRError
from edgeir.fileio import atomic_path, read_json_object
from edgeir.schema import check_fields
from edgeir.shapes import InputShapes

FORMAT_VERSION = 1
SUFFIX = ".manifest.json"


SCHEMA = {
    **dict.fromkeys(("target", "precision", "runtime", "variant", "task"), "a string"),
    **dict.fromkeys(("weights", "input", "output", "size_rule", "shapes", "versions"), "an object"),
    **dict.fromkeys(OPTIONAL_OBJECTS := ("parity", "artifact", "runtime_options", "details"), "an object or null"),
    "opset": "a number or null",
    "created": "a string or null",
}
"""The kinds of a manifest's fields: one copied into a bundle or edited by hand is refused in
one line when read, not met as an AttributeError inside a runtime."""


def manifest_path(artifact: str | Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + SUFFIX)


@dataclass
class Manifest:
    target: str
    precision: str
    runtime: str
    """Which runtime backend opens the artifact (``onnxruntime``, ``openvino``, ...)."""
    variant: str
    task: str
    weights: dict[str, Any]
    """``path``, ``sha256`` and a human ``description`` (random init is said so)."""
    input: dict[str, Any]
    output: dict[str, Any]
    size_rule: dict[str, int]
    shapes: dict[str, Any]
    versions: dict[str, str]
    parity: dict[str, Any] = field(default_factory=dict)
    artifact: dict[str, Any] = field(default_factory=dict)
    opset: int | None = None
    runtime_options: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    """Target-specific facts: kept-FP32 ops of an FP16 graph, quantization settings..."""
    created: str = ""
    format_version: int = FORMAT_VERSION

    @property
    def input_shapes(self) -> InputShapes:
        """Checked as well as read: a manifest edited by hand (a widened range, a size the
        task cannot take) is refused in one line instead of reaching the runtime."""
        shapes = InputShapes.from_dict(self.shapes)
        shapes.validate(self.task)
        return shapes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def metadata(self) -> dict[str, str]:
        """The same facts as flat strings, for formats that carry key/value metadata
        (ONNX ``metadata_props``); the artifact's own hash cannot be among them."""
        data = self.to_dict()
        data.pop("artifact", None)
        return {
            f"edgeir.{key}": value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            for key, value in data.items()
        }

    @classmethod
    def from_metadata(cls, metadata: dict[str, str]) -> Manifest | None:
        prefix = "edgeir."
        found = {k[len(prefix):]: v for k, v in metadata.items() if k.startswith(prefix)}
        if not found:
            return None
        data: dict[str, Any] = {}
        for key, value in found.items():
            try:
                data[key] = json.loads(value)
            except json.JSONDecodeError:
                data[key] = value
        return cls.from_dict(data, "the model's metadata")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> Manifest:
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise EdgeIRError(
                f"expected manifest format version {FORMAT_VERSION} in {source}, found {version!r}"
            )
        check_fields(data, SCHEMA, source)
        known = set(cls.__dataclass_fields__)
        data = {k: v for k, v in data.items() if not (k in OPTIONAL_OBJECTS and v is None)}  # null: the default
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise EdgeIRError(f"expected a complete edgeir manifest in {source}: {exc}") from None

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        with atomic_path(path) as temp:
            temp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, path: str | Path) -> Manifest:
        return cls.from_dict(read_json_object(path, "a manifest"), str(path))
