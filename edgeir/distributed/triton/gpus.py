"""Compute capabilities of the GPUs TensorRT engines were built on: Triton picks an engine
of a multi-GPU model by the capability of the GPU it runs on (``cc_model_filenames``), so
each engine of such a model needs one, and no two may share one."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from edgeir.errors import EdgeIRError

if TYPE_CHECKING:
    from edgeir.distributed.triton.models import Artifact, Model

KNOWN_COMPUTE_CAPABILITIES = (
    # (pattern searched in the lower-cased GPU name a manifest records, compute capability)
    (r"\borin\b", "8.7"),
    (r"\bxavier\b", "7.2"),
    (r"\bg?h(100|200|800|20)\b", "9.0"),
    (r"\bg?b(100|200)\b", "10.0"),
    (r"\ba(100|800|30)\b", "8.0"),
    (r"\ba(10g?|40|16|2)\b|\brtx a\d{4}\b|\brtx 30\d0", "8.6"),
    (r"\bl(4|40s?)\b|\brtx 40\d0|\brtx \d{4} ada\b", "8.9"),
    (r"\bt4\b|\brtx 20\d0|\bgtx 16\d0|\bquadro rtx\b|\btitan rtx\b", "7.5"),
    (r"\bv100\b|\btitan v\b", "7.0"),
    (r"\brtx 50\d0", "12.0"),
)
"""GPU names whose compute capability is unambiguous: the fallback for engines built by
edgeir versions that recorded only the GPU's name (``details.engine.gpu``). Engines built
now record the capability CUDA reports (``details.engine.compute_capability``), which is
used first; an engine with neither a recorded capability nor a name in this table needs
``--compute-capability GPU=X.Y``."""

_CC = re.compile(r"\d{1,2}\.\d")


def compute_capability_of(gpu: str) -> str | None:
    """The compute capability of a GPU name from the table of unambiguous names, or None:
    only for engine manifests that do not record the capability themselves."""
    lowered = gpu.lower()
    for pattern, capability in KNOWN_COMPUTE_CAPABILITIES:
        if re.search(pattern, lowered):
            return capability
    return None


def check_given_capabilities(given: Mapping[str, str]) -> None:
    """Refuse a malformed ``--compute-capability`` before anything is read."""
    for gpu, capability in given.items():
        if not _CC.fullmatch(str(capability)):
            raise EdgeIRError(f"expected a compute capability like 8.7 for {gpu!r}, found {capability!r}")


def check_given_gpus(given: Mapping[str, str], artifacts: Sequence[Artifact]) -> None:
    """Refuse a capability given for a GPU no engine was built on: a misspelt GPU name
    would otherwise be ignored."""
    gpus = sorted({a.gpu for a in artifacts if a.gpu})
    unknown = sorted(set(given) - set(gpus))
    if unknown:
        raise EdgeIRError(f"expected --compute-capability for a GPU an engine was built on "
                          f"({', '.join(gpus) or 'no engines given'}), found {', '.join(map(repr, unknown))}")


def resolve_capabilities(model: Model, given: Mapping[str, str]) -> None:
    """Give every engine of a multi-GPU model its compute capability: recorded in its manifest
    (``details.engine.compute_capability``, what CUDA reported at build time), else given by
    the user (by GPU name), else from the table of well-known GPU names (engines of older
    edgeir versions); two engines for one capability are refused, since Triton picks the
    file by capability alone."""
    seen: dict[str, Artifact] = {}
    for artifact in model.artifacts:
        gpu = artifact.gpu
        if not gpu:
            raise EdgeIRError(f"expected the GPU an engine was built on in the manifest of {artifact.path.name} "
                              "(details.engine.gpu, written by edgeir build-engine), found none")
        recorded, user = artifact.compute_capability, given.get(gpu)
        if recorded and user and recorded != user:
            raise EdgeIRError(f"expected --compute-capability {gpu}={recorded} as the manifest of "
                              f"{artifact.path.name} records, found {user}")
        capability = recorded or user or compute_capability_of(gpu)
        if capability is None:
            raise EdgeIRError(f"expected the compute capability of the GPU {gpu!r} that built "
                              f"{artifact.path.name}, found none recorded or known: pass "
                              f"--compute-capability '{gpu}=X.Y'")
        if not _CC.fullmatch(capability):
            raise EdgeIRError(f"expected a compute capability like 8.7, found {capability!r} for {gpu!r}")
        if capability in seen:
            raise EdgeIRError(f"expected engines for GPUs of different compute capabilities in model "
                              f"{model.name!r}, found {seen[capability].path} ({seen[capability].gpu}) and "
                              f"{artifact.path} ({gpu}) both {capability}: Triton picks a plan by compute "
                              "capability alone; give one of them")
        seen[capability] = artifact
        artifact.compute_capability = capability
