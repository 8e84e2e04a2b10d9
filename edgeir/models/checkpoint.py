"""Loading ConvIR checkpoints safely, from upstream's and other common layouts.

``torch.load(weights_only=True)`` so that a checkpoint cannot run code; every way a file
can be wrong becomes one ``EdgeIRError`` line that says what was expected and found.
"""

from __future__ import annotations

import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import torch

from edgeir.errors import EdgeIRError
from edgeir.models.registry import VARIANTS, Variant, get_variant, variant_for_num_res

STATE_DICT_KEYS = ("model", "state_dict", "params", "params_ema")
"""Where known trainers put the weights: upstream ConvIR, Lightning-style, BasicSR."""

_GLOBAL = re.compile(r"GLOBAL (\S+)")
_BLOCK_KEY = re.compile(r"^Encoder\.0\.layers\.(\d+)\.")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The ConvIR state dict inside ``path``, unwrapped and with ``module.`` stripped."""
    path = Path(path)
    if not path.is_file():
        raise EdgeIRError(f"expected a checkpoint file, found nothing at {path}")
    try:
        with warnings.catch_warnings():
            # torch warns about the protocol of plain pickles before refusing them; the
            # refusal below says what the file is.
            warnings.filterwarnings("ignore", message=".*pickle protocol", category=UserWarning)
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        code = _GLOBAL.search(str(exc))
        if code:
            raise EdgeIRError(
                f"refused to load {path}: it holds Python objects, not only tensors "
                f"({code.group(1)}); edgeir loads with weights_only=True so that a checkpoint "
                "cannot run code"
            ) from None
        raise EdgeIRError(f"expected a PyTorch checkpoint (torch.save), found {describe_pickle(path)} "
                          f"in {path}; nothing in it was run") from None
    except Exception as exc:  # a damaged file can fail anywhere inside the unpickler
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EdgeIRError(
            f"expected a complete PyTorch checkpoint, {path} could not be read "
            f"(truncated or not a checkpoint: {reason})"
        ) from None
    return _unwrap(obj, path)


def describe_pickle(path: Path) -> str:
    """What a file torch refused is, read with pickletools (which runs nothing): a plain
    Python pickle and the Python objects it names, or not a pickle at all."""
    import pickletools

    names: list[str] = []
    strings: list[str] = []
    try:
        with open(path, "rb") as handle:
            for opcode, argument, _ in pickletools.genops(handle):
                if opcode.name == "GLOBAL":
                    names.append(str(argument).replace(" ", "."))
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    names.append(f"{strings[-2]}.{strings[-1]}")
                elif isinstance(argument, str):
                    strings.append(argument)
                if opcode.name == "STOP":
                    break
    except Exception:  # not a pickle, or a damaged one: genops stops at the first bad byte
        return "a file that is neither a torch.save archive nor a complete pickle"
    if names:
        return f"a plain Python pickle naming Python objects ({', '.join(dict.fromkeys(names))})"
    return "a plain Python pickle with no tensors"


def _unwrap(obj: object, path: Path) -> dict[str, torch.Tensor]:
    if not isinstance(obj, Mapping):
        raise EdgeIRError(
            f"expected a dict of tensors in {path}, found a {type(obj).__name__}"
        )
    for key in STATE_DICT_KEYS:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and inner and _all_tensors(inner):
            obj = inner
            break
    if not obj or not _all_tensors(obj):
        found = ", ".join(map(str, list(obj)[:5])) or "nothing"
        raise EdgeIRError(
            f"expected a state dict (or one under {', '.join(map(repr, STATE_DICT_KEYS))}) "
            f"in {path}, found keys: {found}"
        )
    # FP16/BF16 copies (such as the packaged demo weights) load as FP32: the model,
    # its rewrite and every exporter work in FP32 and decide precision themselves.
    return {
        _strip_prefix(str(k)): v.float() if v.is_floating_point() else v for k, v in obj.items()
    }


def _all_tensors(mapping: Mapping) -> bool:
    return all(isinstance(v, torch.Tensor) for v in mapping.values())


def _strip_prefix(key: str) -> str:
    return key[len("module.") :] if key.startswith("module.") else key


def detect_variant(state_dict: Mapping[str, torch.Tensor]) -> Variant:
    """Variant from the number of residual blocks in the first encoder stage."""
    blocks = {int(m.group(1)) for k in state_dict if (m := _BLOCK_KEY.match(k))}
    if not blocks:
        sample = ", ".join(list(state_dict)[:3])
        raise EdgeIRError(
            f"expected ConvIR weights (keys like 'Encoder.0.layers.0.main.0.main.0.weight'), "
            f"found keys like: {sample}"
        )
    num_res = max(blocks) + 1
    variant = variant_for_num_res(num_res)
    if variant is None:
        known = ", ".join(f"{v.num_res} ({v.name})" for v in VARIANTS.values())
        raise EdgeIRError(
            f"expected {known} residual blocks per stage, found {num_res} in this checkpoint"
        )
    return variant


def load_into(model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], label: str) -> None:
    """``load_state_dict(strict=True)`` with mismatches reported as one line."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
        raise EdgeIRError(f"checkpoint does not match {label}: {', '.join(parts)}")
    for key, tensor in expected.items():
        found = state_dict[key]
        if tuple(found.shape) != tuple(tensor.shape):
            raise EdgeIRError(
                f"checkpoint does not match {label}: {key} should have shape "
                f"{tuple(tensor.shape)}, found {tuple(found.shape)}"
            )
        if tensor.is_floating_point() and not found.is_floating_point():
            # load_state_dict would cast an int64 tensor silently: not weights anyone trained.
            raise EdgeIRError(f"expected floating-point weights in {key}, found {found.dtype}")
        if found.is_floating_point():
            bad = found.numel() - int(torch.isfinite(found).sum())
            if bad:
                raise EdgeIRError(f"expected finite weights, found {bad} NaN or infinite value(s) in "
                                  f"{key}: the checkpoint is damaged or its training diverged")
    model.load_state_dict(state_dict, strict=True)


def resolve_variant(state_dict: Mapping[str, torch.Tensor], variant: str | None) -> Variant:
    """The variant the weights hold; a different one asked for is an error, not a guess."""
    detected = detect_variant(state_dict)
    if variant is not None:
        asked = get_variant(variant)
        if asked != detected:
            raise EdgeIRError(
                f"expected ConvIR-{asked.name.upper()} weights ({asked.num_res} residual blocks "
                f"per stage), found ConvIR-{detected.name.upper()} ({detected.num_res})"
            )
    return detected
