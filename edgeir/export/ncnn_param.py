"""ncnn's ``.param`` text: read into layers, changed, written back.

A ``.param`` is a magic number, ``layer_count blob_count``, then one line per layer:
``Type name n_bottoms n_tops bottoms... tops... key=value...``. edgeir changes two things
in it: per-layer feature masks (key 31, which keeps a layer out of FP16) and the INT8
scale term of convolutions (key 8).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgeir.errors import EdgeIRError

MAGIC = "7767517"
FEATMASK = "31"
NO_REDUCED_PRECISION = 1 | 2 | 4
"""Feature-mask bits: no FP16 arithmetic, no FP16 storage, no BF16 storage."""


@dataclass
class Layer:
    type: str
    name: str
    bottoms: list[str]
    tops: list[str]
    params: dict[str, str] = field(default_factory=dict)

    def int(self, key: str, default: int = 0) -> int:
        return int(self.params.get(key, default))

    def line(self) -> str:
        params = " ".join(f"{k}={v}" for k, v in self.params.items())
        return " ".join([f"{self.type:<24}", f"{self.name:<24}", str(len(self.bottoms)), str(len(self.tops)),
                         *self.bottoms, *self.tops, params]).rstrip()


@dataclass
class ParamGraph:
    layers: list[Layer]
    blob_count: int

    @classmethod
    def parse(cls, text: str) -> ParamGraph:
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines or lines[0].strip() != MAGIC:
            raise EdgeIRError(f"expected an ncnn .param starting with {MAGIC}, found {lines[0][:40] if lines else 'an empty file'!r}")
        layer_count, blob_count = (int(v) for v in lines[1].split())
        layers = []
        for line in lines[2:]:
            words = line.split()
            n_bottoms, n_tops = int(words[2]), int(words[3])
            start = 4 + n_bottoms + n_tops
            params = dict(word.split("=", 1) for word in words[start:])
            layers.append(Layer(words[0], words[1], words[4:4 + n_bottoms], words[4 + n_bottoms:start], params))
        if len(layers) != layer_count:
            raise EdgeIRError(f"expected {layer_count} layers as the .param header says, found {len(layers)}")
        return cls(layers, blob_count)

    def text(self) -> str:
        return "\n".join([MAGIC, f"{len(self.layers)} {self.blob_count}", *(layer.line() for layer in self.layers)]) + "\n"

    def nodes(self) -> list[tuple[str, list[str], list[str]]]:
        """(layer name, bottoms, tops) in order: the graph as the FP16 range check reads it."""
        return [(layer.name, layer.bottoms, layer.tops) for layer in self.layers]

    def of_type(self, *types: str) -> list[Layer]:
        return [layer for layer in self.layers if layer.type in types]

    def keep_fp32(self, names: list[str]) -> None:
        """Mask FP16 and BF16 off ``names``: ncnn then computes and stores those layers in FP32."""
        by_name = {layer.name: layer for layer in self.layers}
        for name in names:
            layer = by_name[name]
            layer.params[FEATMASK] = str(layer.int(FEATMASK) | NO_REDUCED_PRECISION)
