"""Input shape ranges: one syntax for every target.

``--size HxW`` is a static shape; ``--dynamic MIN:OPT:MAX`` (each ``HxW``) a range;
``--sizes HxW,HxW,...`` a list of sizes (Core ML's enumerated shapes, which can run on the
Neural Engine at every listed size). ONNX and OpenVINO record the range in the manifest and
check inputs against it, TensorRT builds its optimization profile from it, Core ML declares
any of the three.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from edgeir.errors import EdgeIRError
from edgeir.models.registry import SIZE_MULTIPLE, get_task
from edgeir.models.size import MAX_SIDE, legal_size_for, min_side, tile_hint

Size = tuple[int, int]

DEFAULT_OPT = (736, 1280)  # 720p, padded to legal
DEFAULT_MAX = (1088, 1920)  # 1080p, padded to legal
DEFAULT_RANGE = "default"
"""What ``--dynamic`` without a value passes: the default range."""

_SIZE = re.compile(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*")


def parse_hw(text: str) -> Size:
    """``HxW``, or one number for a square: the one size grammar of every option and spec."""
    match = _SIZE.fullmatch(text)
    if not match:
        raise EdgeIRError(f"expected a size like 256x256 (HxW) or 256 (a square), found {text!r}")
    h = int(match.group(1))
    w = int(match.group(2) or h)
    if h < 1 or w < 1:
        raise EdgeIRError(f"expected positive sides, found {text!r}")
    return h, w


def _fmt(size: Size) -> str:
    return f"{size[0]}x{size[1]}"


@dataclass(frozen=True)
class InputShapes:
    """Height/width range (min <= opt <= max) and batch range of a deployed model."""

    min: Size
    opt: Size
    max: Size
    static: bool = False
    max_batch: int = 1
    """Largest batch a static graph or engine profile is built for; dynamic ONNX graphs
    accept any batch, and record this as the batch they were planned for."""
    sizes: tuple[Size, ...] = ()
    """The only sizes an enumerated model accepts (the first is its default); empty for
    static and range shapes."""

    @property
    def mode(self) -> str:
        return "static" if self.static else "enumerated" if self.sizes else "dynamic"

    @classmethod
    def fixed(cls, size: Size, task: str, batch: int = 1) -> InputShapes:
        shapes = cls(size, size, size, static=True, max_batch=batch)
        shapes.validate(task)
        return shapes

    @classmethod
    def dynamic(cls, spec: str | None, task: str, batch: int = 1) -> InputShapes:
        """``MIN:OPT:MAX`` or ``MIN:MAX`` (OPT = MAX); ``None`` gives the default range:
        the task's smallest legal square up to 1080p, optimised for 720p."""
        if spec is None or spec == DEFAULT_RANGE:
            smallest = min_side(get_task(task).dilations)
            shapes = cls((smallest, smallest), DEFAULT_OPT, DEFAULT_MAX, max_batch=batch)
        else:
            parts = [parse_hw(p) for p in spec.split(":")]
            if len(parts) == 2:
                parts = [parts[0], parts[1], parts[1]]
            if len(parts) != 3:
                raise EdgeIRError(
                    f"expected --dynamic MINxMIN:OPTxOPT:MAXxMAX or MIN:MAX, found {spec!r}"
                )
            shapes = cls(*parts, max_batch=batch)
        shapes.validate(task)
        return shapes

    @classmethod
    def enumerated(cls, spec: str, task: str, batch: int = 1) -> InputShapes:
        """``HxW,HxW,...``: exactly these sizes, the first being the default."""
        sizes = tuple(parse_hw(p) for p in spec.split(","))
        if len(sizes) < 2:
            raise EdgeIRError(f"expected at least 2 sizes in --sizes (one size is --size HxW), found {spec!r}")
        if len(set(sizes)) != len(sizes):
            raise EdgeIRError(f"expected distinct sizes in --sizes, found {spec!r}")
        low = tuple(min(s[i] for s in sizes) for i in (0, 1))
        high = tuple(max(s[i] for s in sizes) for i in (0, 1))
        shapes = cls(low, sizes[0], high, max_batch=batch, sizes=sizes)  # type: ignore[arg-type]
        shapes.validate(task)
        return shapes

    def validate(self, task: str) -> None:
        if self.max_batch < 1:
            raise EdgeIRError(f"expected a batch of at least 1, found {self.max_batch}")
        smallest = min_side(get_task(task).dilations)
        if self.sizes:
            named = [(f"listed size {i + 1}", size) for i, size in enumerate(self.sizes)]
        elif self.static:
            named = [("size", self.opt)]
        else:
            named = [("min size", self.min), ("opt size", self.opt), ("max size", self.max)]
        for label, (h, w) in named:
            for side in (h, w):
                if side > MAX_SIDE:
                    raise EdgeIRError(
                        f"expected {label} sides of at most {MAX_SIDE}, found {_fmt((h, w))}: larger "
                        "frames are restored in tiles of a size in the range"
                    )
                if side % SIZE_MULTIPLE or side < smallest:
                    legal = legal_size_for(h, w, get_task(task).dilations)
                    raise EdgeIRError(
                        f"expected {label} sides that are multiples of {SIZE_MULTIPLE} and at "
                        f"least {smallest} for {task}, found {_fmt((h, w))}: use {_fmt(legal)} "
                        "(frames are padded to it and cropped back)"
                    )
        if not all(a <= b <= c for a, b, c in zip(self.min, self.opt, self.max)):
            raise EdgeIRError(
                f"expected MIN <= OPT <= MAX in each side, found {self.describe()}"
            )

    def describe(self) -> str:
        if self.static:
            return f"static {self.max_batch}x3x{_fmt(self.opt)}"
        if self.sizes:
            return "enumerated " + ", ".join(map(_fmt, self.sizes))
        return f"dynamic {_fmt(self.min)}:{_fmt(self.opt)}:{_fmt(self.max)}"

    def check(self, batch: int, h: int, w: int) -> None:
        """Raise when a batch of h x w inputs is outside what the model was built for."""
        if self.static:
            if (h, w) != self.opt or batch != self.max_batch:
                raise EdgeIRError(
                    f"this model was exported for a static {self.max_batch}x3x{_fmt(self.opt)} "
                    f"input, found {batch}x3x{h}x{w}"
                )
            return
        if self.sizes:
            if (h, w) not in self.sizes:
                raise EdgeIRError(
                    f"this model accepts only the sizes {', '.join(map(_fmt, self.sizes))}, found "
                    f"{h}x{w}: pad to a listed size or re-export with --sizes"
                )
            return
        if not (self.min[0] <= h <= self.max[0] and self.min[1] <= w <= self.max[1]):
            raise EdgeIRError(
                f"this model accepts sizes from {_fmt(self.min)} to {_fmt(self.max)}, found "
                f"{h}x{w}: {tile_hint()} or re-export with a wider --dynamic range"
            )

    def fitting(self, h: int, w: int) -> Size | None:
        """The smallest listed size an h x w frame fits in (padded up), or None."""
        fits = [s for s in self.sizes if h <= s[0] and w <= s[1]]
        return min(fits, key=lambda s: (s[0] * s[1], s)) if fits else None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "mode": self.mode,
            "min": list(self.min),
            "opt": list(self.opt),
            "max": list(self.max),
            "max_batch": self.max_batch,
        }
        if self.sizes:
            data["sizes"] = [list(s) for s in self.sizes]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputShapes:
        """From a manifest: every field typed as written (an edited manifest with a size as a
        string or a float is refused here, not deep inside a runtime); ``validate`` then
        checks the sizes against the task."""
        def size(value: Any) -> Size:
            if (not isinstance(value, (list, tuple)) or len(value) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)):
                raise EdgeIRError(f"expected sizes as [H, W] positive integers in a shapes record, found {value!r}")
            return int(value[0]), int(value[1])

        if not isinstance(data, dict) or data.get("mode") not in ("static", "dynamic", "enumerated"):
            raise EdgeIRError(f"expected a shapes record with mode static, dynamic or enumerated, found {data!r}")
        missing = [key for key in ("min", "opt", "max") if key not in data]
        if missing:
            raise EdgeIRError(f"expected min, opt and max in a shapes record, found no {', '.join(missing)}")
        batch = data.get("max_batch", 1)
        if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
            raise EdgeIRError(f"expected max_batch a positive integer in a shapes record, found {batch!r}")
        sizes = data.get("sizes", [])
        if not isinstance(sizes, list) or (data["mode"] == "enumerated") != bool(sizes):
            raise EdgeIRError(f"expected listed sizes exactly when the mode is enumerated, found {data!r}")
        return cls(size(data["min"]), size(data["opt"]), size(data["max"]), static=data["mode"] == "static",
                   max_batch=batch, sizes=tuple(size(s) for s in sizes))
