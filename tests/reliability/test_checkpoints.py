"""Checkpoints: only finite floating-point tensors load, and a file that is not a
checkpoint says what it is without anything in it being run."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from edgeir import EdgeIRError
from edgeir.models import load_checkpoint

from ..conftest import random_model

pytestmark = pytest.mark.clear_error


def _saved(tmp_path, edit):
    state = {k: v.clone() for k, v in random_model("s").state_dict().items()}
    edit(state)
    path = tmp_path / "edited.pkl"
    torch.save({"model": state}, path)
    return path


KEY = "Encoder.0.layers.0.main.0.main.0.weight"


def test_an_integer_tensor_in_place_of_a_weight_is_refused(tmp_path):
    path = _saved(tmp_path, lambda s: s.__setitem__(KEY, torch.ones_like(s[KEY], dtype=torch.int64)))
    with pytest.raises(EdgeIRError, match=f"floating-point weights in {KEY}, found torch.int64"):
        load_checkpoint(path)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_with_the_tensor_name(tmp_path, value):
    def poison(state):
        state[KEY][0, 0, 0, 0] = value

    with pytest.raises(EdgeIRError, match=f"1 NaN or infinite value\\(s\\) in {KEY}"):
        load_checkpoint(_saved(tmp_path, poison))


class _Payload:
    def __reduce__(self):
        return (os.system, ("echo should-never-run",))


@pytest.mark.parametrize("kind", ["plain", "malicious"])
def test_a_plain_pickle_says_what_it_is_and_runs_nothing(tmp_path, kind, capfd):
    path = tmp_path / f"{kind}.pkl"
    with open(path, "wb") as handle:
        pickle.dump({"model": _Payload() if kind == "malicious" else {"a": 1}}, handle)
    expected = "naming Python objects \\(posix.system\\)" if kind == "malicious" else "with no tensors"
    with pytest.raises(EdgeIRError, match=f"found a plain Python pickle {expected}"):
        load_checkpoint(path)
    captured = capfd.readouterr()
    assert "should-never-run" not in captured.out and "pickle protocol" not in captured.err


def test_random_bytes_are_not_a_checkpoint(tmp_path):
    path = tmp_path / "noise.pth"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(EdgeIRError):
        load_checkpoint(path)
