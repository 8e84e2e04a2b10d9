"""Evaluation sets: synthetic eval split, blur/sharp folders and the GoPro layout, at one
size; their errors name the file."""

import numpy as np
import pytest

from edgeir.bench.evalset import open_evalset
from edgeir.data.io import write_image
from edgeir.errors import EdgeIRError


def _folders(root, sizes):
    rng = np.random.default_rng(0)
    for side in ("blur", "sharp"):
        (root / side).mkdir(parents=True)
    for i, (h, w) in enumerate(sizes):
        for side in ("blur", "sharp"):
            write_image(root / side / f"{i:03d}.png", rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
    return root


def test_synthetic_is_the_eval_split_at_the_size():
    evalset = open_evalset("synthetic", "motion-deblur", (256, 288), limit=2)
    items = list(evalset)
    assert len(items) == 2 and evalset.frame_size == (256, 288)
    assert all(b.shape == s.shape == (256, 288, 3) and b.dtype == np.uint8 for _, b, s in items)
    assert "2 pairs of synthetic at 256x288" == evalset.describe()


def test_pairs_are_centre_cropped_or_whole(tmp_path):
    root = _folders(tmp_path / "set", [(300, 320), (260, 270)])
    spec = f"pairs:{root / 'blur'},{root / 'sharp'}"
    cropped = list(open_evalset(spec, "motion-deblur", (256, 256)))
    assert [name for name, _, _ in cropped] == ["set/000.png", "set/001.png"]
    assert all(b.shape == (256, 256, 3) for _, b, _ in cropped)
    whole = list(open_evalset(spec, "motion-deblur", None))
    assert [b.shape for _, b, _ in whole] == [(300, 320, 3), (260, 270, 3)]


def test_gopro_layout(tmp_path):
    _folders(tmp_path / "GOPRO" / "test" / "SCENE_A", [(256, 256)])
    names = [n for n, _, _ in open_evalset(f"gopro:{tmp_path / 'GOPRO'}", "motion-deblur")]
    assert names == ["SCENE_A/000.png"]


def test_errors_name_the_file(tmp_path):
    root = _folders(tmp_path / "small", [(200, 200)])
    with pytest.raises(EdgeIRError, match="at least 256x256 for --size, found 200x200 in small/000.png"):
        list(open_evalset(f"pairs:{root / 'blur'},{root / 'sharp'}", "motion-deblur", (256, 256)))
    (root / "sharp" / "000.png").unlink()
    with pytest.raises(EdgeIRError, match="expected a sharp image for .*000.png"):
        open_evalset(f"pairs:{root / 'blur'},{root / 'sharp'}", "motion-deblur")
    with pytest.raises(EdgeIRError, match="expected --size with --data synthetic"):
        open_evalset("synthetic", "motion-deblur", None)
    with pytest.raises(EdgeIRError, match="expected --limit of at least 1"):
        open_evalset("synthetic", "motion-deblur", limit=0)
