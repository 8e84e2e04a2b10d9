import os

import pytest
import torch

from edgeir import EdgeIRError, create_model, load_checkpoint
from tests.conftest import randomize_

KEY = "Encoder.0.layers.3.main.1.dynas.0.square_att.conv.weight"


@pytest.fixture(scope="module")
def weights():
    return randomize_(create_model("s"), seed=5).state_dict()


def _save(tmp_path, obj, name="ckpt.pkl", **kwargs):
    path = tmp_path / name
    torch.save(obj, path, **kwargs)
    return path


@pytest.mark.parametrize(
    "layout",
    [
        lambda sd: {"model": sd},
        lambda sd: {"model": sd, "optimizer": {"lr": 1e-3}, "epoch": 3},
        lambda sd: {"state_dict": sd},
        lambda sd: {"params": sd},
        lambda sd: sd,
        lambda sd: {"model": {f"module.{k}": v for k, v in sd.items()}},
    ],
    ids=["upstream", "upstream-training", "state_dict", "params", "bare", "dataparallel"],
)
def test_accepted_layouts(tmp_path, weights, layout):
    model = load_checkpoint(_save(tmp_path, layout(weights)))
    assert model.variant.name == "s" and not model.training
    assert torch.equal(model.state_dict()[KEY], weights[KEY])


def test_legacy_serialization(tmp_path, weights):
    path = _save(tmp_path, {"model": weights}, _use_new_zipfile_serialization=False)
    assert torch.equal(load_checkpoint(path).state_dict()[KEY], weights[KEY])


@pytest.mark.parametrize("variant", ["s", "b", "l"])
def test_variant_is_detected(tmp_path, variant):
    path = _save(tmp_path, {"model": create_model(variant).state_dict()})
    assert load_checkpoint(path).variant.name == variant
    assert load_checkpoint(path, task="derain").dilations == (3, 7, 9)


def test_create_model_with_weights(tmp_path, weights):
    model = create_model("s", "motion-deblur", weights=_save(tmp_path, {"model": weights}))
    assert torch.equal(model.state_dict()[KEY], weights[KEY])


def _expect(path, pattern, **kwargs):
    with pytest.raises(EdgeIRError, match=pattern) as info:
        load_checkpoint(path, **kwargs)
    assert "\n" not in str(info.value)
    assert info.value.__cause__ is None or isinstance(info.value.__cause__, EdgeIRError)
    return str(info.value)


def test_wrong_variant_given(tmp_path, weights):
    path = _save(tmp_path, {"model": weights})
    message = _expect(path, "expected ConvIR-B", variant="b")
    assert "found ConvIR-S" in message


def test_missing_key(tmp_path, weights):
    broken = dict(weights)
    del broken[KEY]
    assert KEY in _expect(_save(tmp_path, broken), "1 missing keys")


def test_unexpected_key(tmp_path, weights):
    broken = {**weights, "head.weight": torch.zeros(3)}
    assert "head.weight" in _expect(_save(tmp_path, broken), "1 unexpected keys")


def test_wrong_shape(tmp_path, weights):
    broken = {**weights, KEY: torch.zeros(72, 32, 3, 3)}
    _expect(_save(tmp_path, broken), r"should have shape \(72, 32, 1, 1\), found \(72, 32, 3, 3\)")


def test_unknown_block_count(tmp_path, weights):
    broken = {**weights, "Encoder.0.layers.5.main.0.main.0.weight": torch.zeros(1)}
    _expect(_save(tmp_path, broken), "found 6 in this checkpoint")


def test_not_convir(tmp_path):
    _expect(_save(tmp_path, {"fc.weight": torch.zeros(2, 2)}), "expected ConvIR weights")


def test_not_a_dict(tmp_path):
    _expect(_save(tmp_path, torch.zeros(3)), "expected a dict of tensors")


def test_no_state_dict_inside(tmp_path):
    _expect(_save(tmp_path, {"epoch": 3, "lr": 0.1}), "found keys: epoch, lr")


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "photo.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(256))
    _expect(path, "neither a torch.save archive nor a complete pickle|could not be read")


def test_text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are not weights\n")
    _expect(path, "neither a torch.save archive nor a complete pickle|could not be read")


def test_truncated(tmp_path, weights):
    path = _save(tmp_path, {"model": weights})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect(path, "could not be read")


def test_missing_file(tmp_path):
    _expect(tmp_path / "nope.pkl", "found nothing at")


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_code_payload_is_refused_without_running(tmp_path, weights):
    marker = tmp_path / "payload-ran"
    path = _save(tmp_path, {"model": weights, "extra": _Payload(marker)})
    _expect(path, "refused to load")
    assert not marker.exists()
