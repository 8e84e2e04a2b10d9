import numpy as np
import pytest

from edgeir import EdgeIRError
from edgeir.data.io import write_image
from edgeir.data.pairs import folder_pairs, gopro_pairs, read_pair
from edgeir.data.sources import open_pairs
from edgeir.data.synthetic import SyntheticBlur

pytest.importorskip("cv2", reason="the video extra is not installed")


def _write(folder, name, shape=(40, 60, 3), value=0):
    folder.mkdir(parents=True, exist_ok=True)
    write_image(folder / name, np.full(shape, value, np.uint8))


def test_folders_matched_by_name(tmp_path):
    for name in ("b.png", "a.png"):
        _write(tmp_path / "blur", name, value=10)
        _write(tmp_path / "sharp", name, value=200)
    pairs = folder_pairs(tmp_path / "blur", tmp_path / "sharp")
    assert [p.blur.name for p in pairs] == ["a.png", "b.png"]
    blur, sharp = read_pair(pairs[0])
    assert blur.mean() == 10 and sharp.mean() == 200
    data = open_pairs(f"pairs:{tmp_path / 'blur'},{tmp_path / 'sharp'}", "eval")
    assert len(data) == 2 and data[1][0].shape == (40, 60, 3)


def test_unmatched_file_is_named(tmp_path):
    _write(tmp_path / "blur", "a.png")
    _write(tmp_path / "blur", "lonely.png")
    _write(tmp_path / "sharp", "a.png")
    with pytest.raises(EdgeIRError, match="sharp image for .*lonely.png"):
        folder_pairs(tmp_path / "blur", tmp_path / "sharp")


def test_size_mismatch_names_both_files(tmp_path):
    _write(tmp_path / "blur", "a.png", shape=(40, 60, 3))
    _write(tmp_path / "sharp", "a.png", shape=(40, 64, 3))
    (pair,) = folder_pairs(tmp_path / "blur", tmp_path / "sharp")
    with pytest.raises(EdgeIRError, match="one size, found 60x40 and 64x40"):
        read_pair(pair)


def test_gopro_layout(tmp_path):
    for scene in ("GOPR0384_11_00", "GOPR0385_11_01"):
        for i in range(2):
            _write(tmp_path / "test" / scene / "blur", f"{i:06d}.png")
            _write(tmp_path / "test" / scene / "sharp", f"{i:06d}.png")
    pairs = gopro_pairs(tmp_path)
    assert len(pairs) == 4 and pairs[0].name == "GOPR0384_11_00/000000.png"
    assert len(open_pairs(f"gopro:{tmp_path}", "eval")) == 4
    with pytest.raises(EdgeIRError, match="SCENE/blur and SCENE/sharp"):
        gopro_pairs(tmp_path / "test" / "GOPR0384_11_00" / "blur")


@pytest.mark.parametrize("spec", ["imagenet", "pairs:only_one", "gopro:", "synthetic:extra"])
def test_bad_specs(spec):
    with pytest.raises(EdgeIRError, match="expected --data synthetic"):
        open_pairs(spec, "train")


def test_synthetic_from_spec():
    data = open_pairs("synthetic", "calib", (256, 320), length=3)
    assert isinstance(data, SyntheticBlur) and len(data) == 3
    assert data[0][0].shape == (256, 320, 3)
