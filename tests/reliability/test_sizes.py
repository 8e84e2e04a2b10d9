"""Sizes: a side no machine can restore in one piece fails in one line naming the limit and
the fix, before any allocation."""

from __future__ import annotations

import numpy as np
import pytest

from edgeir import EdgeIRError
from edgeir.models.size import MAX_SIDE

pytestmark = pytest.mark.clear_error


@pytest.mark.parametrize("args", [
    ["--size", "100000x100000"],
    ["--dynamic", "256x256:512x512:100000x100000"],
    ["--size", f"{MAX_SIDE + 32}x256"],
])
def test_export_refuses_huge_sizes_before_work(args, capsys):
    from edgeir.cli import main

    assert main(["export", "--target", "onnx", *args]) == 1
    err = capsys.readouterr().err
    assert f"at most {MAX_SIDE}" in err and err.count("\n") == 1


def test_a_frame_too_large_for_one_piece_is_refused_with_the_tile_hint(identity):
    from edgeir.runtimes.restorer import Restorer

    frame = np.zeros((1, MAX_SIDE + 1, 3), np.uint8)
    with pytest.raises(EdgeIRError, match=f"at most {MAX_SIDE} pixels in one piece.*--tile 512"):
        Restorer(identity).restore(frame)
    assert identity.calls == []


@pytest.mark.correct_result
def test_the_same_frame_in_tiles_is_restored(identity):
    from edgeir.runtimes.restorer import Restorer

    frame = np.full((8, MAX_SIDE + 1, 3), 7, np.uint8)
    out = Restorer(identity, tile=512, overlap=32).restore(frame)
    assert np.array_equal(out, frame)


@pytest.mark.correct_result
def test_edgeir_runtimes_is_reachable_after_import_edgeir():
    import edgeir

    assert callable(edgeir.runtimes.load)


def test_a_frame_that_would_not_fit_in_memory_is_refused_before_it_runs(identity, monkeypatch):
    from edgeir.runtimes import memory
    from edgeir.runtimes.restorer import Restorer

    frame = np.zeros((512, 512, 3), np.uint8)
    monkeypatch.setattr(memory, "available_bytes", lambda: memory.estimate_bytes(1, 256, 256) * 2)
    with pytest.raises(EdgeIRError, match=r"1x512x512 needing about .* GiB \(estimated\).*--tile 512"):
        Restorer(identity).restore(frame)
    assert identity.calls == []
    assert Restorer(identity, tile=256, overlap=32).restore(frame).shape == frame.shape


@pytest.mark.correct_result
def test_the_memory_estimate_is_skipped_where_memory_cannot_be_read(identity, monkeypatch):
    from edgeir.runtimes import memory
    from edgeir.runtimes.restorer import Restorer

    monkeypatch.setattr(memory, "available_bytes", lambda: None)
    frame = np.zeros((300, 300, 3), np.uint8)
    assert np.array_equal(Restorer(identity).restore(frame), frame)
