"""Scores, the jump and the worst layer, JSON and the plot, on hand-made results."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgeir.compare.report import (
    Comparison,
    LayerResult,
    Score,
    activation_psnr,
    find_jump,
    find_worst,
    write_plot,
)


def _layers(*psnrs: float) -> list[LayerResult]:
    return [LayerResult(i, f"layer{i}", f"/layer{i}/Conv", f"layer{i}", p, 0.0 if math.isinf(p) else 0.1)
            for i, p in enumerate(psnrs)]


def _comparison(*psnrs: float) -> Comparison:
    output = Score()
    output.add(np.zeros((1, 3, 4, 4), np.float32), np.full((1, 3, 4, 4), 0.01, np.float32), layer=False)
    frames = {"source": "synthetic calib split (1 frames)", "count": 1, "size": [256, 256], "batch": 1}
    return Comparison("A", "B", frames, _layers(*psnrs), [], ["extra"], output)


def test_activation_psnr_uses_the_reference_peak():
    reference = np.array([[10.0, -20.0]])
    candidate = reference + np.array([[0.2, 0.0]])  # mse 0.02, peak 20
    assert activation_psnr(reference, candidate) == pytest.approx(10 * math.log10(400 / 0.02))
    assert activation_psnr(reference, reference.copy()) == math.inf


def test_the_first_drop_past_the_threshold_is_the_jump():
    jump = find_jump(_layers(60, 58, 50, 20), threshold_db=3)
    assert (jump.layer.name, jump.drop_db, jump.crossed) == ("layer2", 8, True)


def test_without_a_drop_past_the_threshold_the_largest_drop_is_reported():
    jump = find_jump(_layers(60, 59, 61, 59.5), threshold_db=3)
    assert (jump.layer.name, jump.drop_db, jump.crossed) == ("layer3", 1.5, False)


def test_error_appearing_after_identical_layers_is_a_jump_and_identical_is_none():
    assert find_jump(_layers(math.inf, math.inf, 70)).layer.name == "layer2"
    assert find_jump(_layers(math.inf, math.inf)) is None
    assert find_jump(_layers(40, 45, 50)) is None  # the error only shrinks
    assert find_worst(_layers(math.inf, math.inf)) is None
    assert find_worst(_layers(50, 30, 40)).name == "layer1"


def test_json_writes_infinity_as_null_and_names_jump_and_worst():
    data = json.loads(_comparison(math.inf, 50, 20).to_json())
    assert data["layers"][0]["psnr_db"] is None and data["matched"] == 3
    assert data["unmatched"] == {"a": 0, "b": 1} and data["unmatched_layers"]["b"] == ["extra"]
    assert data["jump"]["name"] == "layer1" and data["jump"]["drop_db"] is None
    assert data["worst"]["name"] == "layer2" and data["output"]["psnr_db"] == 40.0


def test_plot_is_a_png_written_in_place(tmp_path):
    path = write_plot(_comparison(math.inf, 50, 20, 35), tmp_path / "layers.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["layers.png"]  # nothing partial left


def test_a_batch_is_scored_frame_by_frame():
    score = Score()
    reference = np.ones((2, 4, 3, 3), np.float32)
    candidate = reference.copy()
    candidate[1] += 0.5
    score.add(reference, candidate, layer=True)
    assert score.frames[0] == math.inf and score.max_abs == 0.5
    assert score.psnr_db == round(10 * math.log10(1 / 0.25), 2)  # identical frames say nothing


def test_rounding_level_drops_are_not_a_jump():
    """FP32 against FP32 in another runtime differs by reordered sums (130-150 dB): no jump."""
    assert find_jump(_layers(150.0, 131.0, 145.0)) is None
    jump = find_jump(_layers(150.0, 131.0, 60.0))
    assert jump is not None and jump.layer.name == "layer2" and jump.crossed
