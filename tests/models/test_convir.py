import pytest
import torch

from edgeir import create_model
from edgeir.models import OUTPUT_NAMES, ConvIR
from edgeir.models.profile import count_macs, count_parameters
from edgeir.models.registry import TASKS, VARIANTS
from tests.conftest import randomize_

UPSTREAM_COUNTS = {"s": (506, 5_530_505), "b": (602, 8_630_665), "l": (794, 14_830_985)}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_parameter_and_key_counts_match_published_checkpoints(variant):
    model = create_model(variant)
    assert (len(model.state_dict()), count_parameters(model)) == UPSTREAM_COUNTS[variant]
    assert VARIANTS[variant].num_params == UPSTREAM_COUNTS[variant][1]


def test_upstream_module_names():
    keys = create_model("s").state_dict()
    for key in (
        "Encoder.0.layers.3.main.1.dynas.0.square_att.conv.weight",
        "Encoder.0.layers.3.main.1.dynas.0.square_att.bn.running_var",
        "Encoder.2.layers.3.main.1.dynas.2.strip_att.H_spatial_att.lamb_l",
        "Decoder.1.layers.3.main.1.dynas.1.strip_att.W_spatial_att.inside_all",
        "Decoder.2.layers.3.main.1.conv_sum.weight",
        "feat_extract.3.main.0.weight",
        "SCM1.main.4.weight",
        "FAM2.merge.main.0.bias",
        "ConvsOut.1.main.0.weight",
    ):
        assert key in keys


@pytest.mark.parametrize("task", list(TASKS))
def test_state_dict_round_trip_is_strict(task):
    source = randomize_(create_model("s", task), seed=1)
    fresh = ConvIR("s", task)
    fresh.load_state_dict(source.state_dict(), strict=True)
    for name, tensor in fresh.state_dict().items():
        assert torch.equal(tensor, source.state_dict()[name]), name


def test_three_outputs_at_three_scales():
    x = torch.rand(1, 3, 256, 320)
    with torch.no_grad():
        outputs = create_model("s")(x)
    assert [tuple(o.shape) for o in outputs] == [(1, 3, 64, 80), (1, 3, 128, 160), (1, 3, 256, 320)]
    assert len(OUTPUT_NAMES) == 3 and OUTPUT_NAMES[-1] == "output"


def test_task_presets_set_dilations():
    assert ConvIR("s", "derain").Encoder[0].layers[3].main[1].dilations == (3, 7, 9)
    dynas = ConvIR("s", "dehaze").Decoder[2].layers[3].main[1].dynas
    assert [d.square_att.dilation for d in dynas] == [7, 9, 11]


def test_randomised_dynamic_branches_matter():
    """Guards the parity tests: if the dynamic filters contributed nothing, a broken
    rewrite of them would pass unnoticed."""
    model = randomize_(create_model("s"), seed=2)
    x = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        before = model(x)[2]
        for name, param in model.named_parameters():
            if name.endswith("lamb_l") or name.endswith("gamma"):
                param.zero_()
        after = model(x)[2]
    assert (before - after).abs().max() > 1e-2


def test_gmacs_at_256():
    """38.7 GMAC of convolution for S at 256x256, as measured in DESIGN.md."""
    assert count_macs("s", "motion-deblur", 256, 256) == pytest.approx(38.68e9, rel=1e-3)
    assert count_macs("s", "motion-deblur", 512, 512, batch=2) == pytest.approx(8 * 38.68e9, rel=1e-3)
