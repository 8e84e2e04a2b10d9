"""Checking JSON read back from edgeir's own files (a bundle index, a report, a cache
record): one schema check with one way of saying what was expected and what was found, so a
hand-edited file is refused when it is opened, not halfway through a run."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeir.errors import EdgeIRError


def _number(value: Any) -> bool:
    """A JSON number Python can compute with: not a bool, and an int no larger than a
    float holds (``10**400`` in a hand-edited file would overflow every later use)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


KINDS: dict[str, Callable[[Any], bool]] = {
    "a string": lambda v: isinstance(v, str),
    "a string or null": lambda v: v is None or isinstance(v, str),
    "true or false": lambda v: isinstance(v, bool),
    "a finite number": lambda v: _number(v) and math.isfinite(float(v)),
    "a number or null": lambda v: v is None or _number(v),
    "a positive integer or null": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v > 0),
    "an object": lambda v: isinstance(v, dict),
    "an object or null": lambda v: v is None or isinstance(v, dict),
    "a list of objects": lambda v: isinstance(v, list) and all(isinstance(x, dict) for x in v),
    "a list of strings": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "a non-empty list of strings": lambda v: isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v),
    "an object of strings": lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
}
"""The value kinds a schema of :func:`check_fields` names, said as its error says them."""


def check_fields(data: Any, schema: dict[str, str], source: str | Path, where: str = "") -> None:
    """``data`` is an object whose keys in ``schema`` hold values of the kinds named there
    (``KINDS``; a kind ending in ``or null`` may also be missing); else one line naming the
    field, the file and what was found. One check for every JSON file edgeir reads back, so
    a hand-edited one is refused when it is opened, not halfway through a run."""
    if not isinstance(data, dict):
        raise EdgeIRError(f"expected {where or 'the top level'} to be an object in {source}, found "
                          f"{_shown(data)}")
    for key, kind in schema.items():
        name = f"{where}.{key}" if where else key
        if key not in data:
            if kind.endswith("or null"):
                continue
            raise EdgeIRError(f"expected {name} ({kind}) in {source}, found none")
        if not KINDS[kind](data[key]):
            raise EdgeIRError(f"expected {name} to be {kind} in {source}, found {_shown(data[key])}")


_JSON_KINDS = {"dict": "object", "list": "list", "str": "string", "int": "number", "float": "number",
               "bool": "boolean", "NoneType": "null"}


def _shown(value: Any) -> str:
    """A found value in an error line: itself when short, else its JSON kind."""
    if isinstance(value, list):
        kinds = sorted({_JSON_KINDS.get(type(v).__name__, type(v).__name__) for v in value})
        return f"a list of {' and '.join(kinds)}s" if kinds else "an empty list"
    if isinstance(value, dict):
        return "an object"
    text = json.dumps(value) if isinstance(value, (str, int, float, bool, type(None))) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."
