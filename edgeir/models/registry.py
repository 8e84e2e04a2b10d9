"""Variants and task presets of ConvIR, as data.

A variant is the number of residual blocks per encoder/decoder stage; a task preset is
the dilations of the DeepPoolLayer dynamic filters. Everything else about the network is
shared, so adding one is one line here.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeir.errors import EdgeIRError

SIZE_MULTIPLE = 32
"""Input sides must divide by 32: three stride-2 stages, then average pools of 8 at 1/4."""

INPUT_NAME = "input"
OUTPUT_NAMES = ("output_quarter", "output_half", "output")
"""The faithful model returns 1/4, 1/2 and full scale; deployment keeps only ``output``."""


@dataclass(frozen=True)
class Variant:
    name: str
    num_res: int
    """Residual blocks per encoder/decoder stage (upstream's ``num_res``)."""
    num_params: int
    """Parameter count of the published checkpoints; the tests hold the code to it."""
    upstream_name: str


@dataclass(frozen=True)
class Task:
    name: str
    dilations: tuple[int, int, int]
    """Dilations of the three dynamic filters in each DeepPoolLayer (pools 8, 4, 2)."""
    upstream_dir: str


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("s", num_res=4, num_params=5_530_505, upstream_name="small"),
        Variant("b", num_res=8, num_params=8_630_665, upstream_name="base"),
        Variant("l", num_res=16, num_params=14_830_985, upstream_name="large"),
    )
}

TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("motion-deblur", (7, 9, 11), "Motion_Deblurring"),
        Task("defocus-deblur", (7, 9, 11), "Defocus_Deblurring"),
        Task("dehaze", (7, 9, 11), "Dehazing"),
        Task("desnow", (7, 9, 11), "Image_desnowing"),
        Task("derain", (3, 7, 9), "Image_deraining"),
    )
}

DEFAULT_VARIANT = "s"
DEFAULT_TASK = "motion-deblur"


def get_variant(name: str) -> Variant:
    key = name.lower() if isinstance(name, str) else name
    if key not in VARIANTS:
        raise EdgeIRError(f"unknown variant {name!r}: expected one of {', '.join(VARIANTS)}")
    return VARIANTS[key]


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise EdgeIRError(f"unknown task {name!r}: expected one of {', '.join(TASKS)}")
    return TASKS[name]


def variant_for_num_res(num_res: int) -> Variant | None:
    for variant in VARIANTS.values():
        if variant.num_res == num_res:
            return variant
    return None
