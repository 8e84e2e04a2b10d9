import pytest
import torch

from edgeir import EdgeIRError, cli, create_model, load_checkpoint
from edgeir.data.synthetic import SyntheticBlur
from edgeir.train import TrainConfig, center_crops, sample_batch, train, upstream_loss

pytest.importorskip("albumentations", reason="the data extra is not installed")


def _config(**overrides):
    base = dict(steps=1, warmup=1, lr=3e-5, val_every=1, val_frames=1, save_every=1)
    return TrainConfig(**{**base, **overrides})


@pytest.fixture(scope="module")
def data():
    pairs = SyntheticBlur("train", (256, 256), length=4)
    held_out = center_crops(SyntheticBlur("eval", (256, 256), length=1), 256, 1)
    return pairs, held_out


def _loss(model, batch):
    blurred, sharp = batch
    model.train()
    with torch.no_grad():
        return upstream_loss(model(blurred), sharp).item()


def test_one_step_changes_weights_and_lowers_loss(tmp_path, data):
    pairs, held_out = data
    config = _config()
    out = tmp_path / "run.pkl"
    train(config, pairs, held_out, out, progress=False)
    torch.manual_seed(config.seed)
    before = create_model("s")  # the same seeded initialisation train() started from
    after = load_checkpoint(out)
    batch = sample_batch(pairs, 0, config)
    changed = [k for k, v in after.state_dict().items() if not torch.equal(v, before.state_dict()[k])]
    assert len(changed) > 100
    assert _loss(after, batch) < _loss(before, batch)


def test_checkpoint_layout_and_resume(tmp_path, data, caplog):
    caplog.set_level("INFO", logger="edgeir")
    pairs, held_out = data
    out = tmp_path / "run.pkl"
    train(_config(), pairs, held_out, out, progress=False)
    state = torch.load(out, weights_only=True)
    assert {"model", "optimizer", "step", "config", "history"} <= set(state)
    assert state["step"] == 1 and isinstance(state["model"], dict)
    assert load_checkpoint(out).variant.name == "s"
    result = train(_config(steps=2), pairs, held_out, out, resume=True, progress=False)
    state = torch.load(out, weights_only=True)
    assert result["steps"] == 2 and state["step"] == 2 and len(state["history"]) == 2
    assert "val_psnr" in state["history"][-1]
    # one line per validation for runs without a terminal: the step, the mean loss, the pace
    assert "step 2/2: mean loss" in caplog.text and "steps/s, validation PSNR" in caplog.text


def test_speed_settings_may_change_on_resume(tmp_path, data):
    """bf16 autocast and the device depend on the machine a run continues on."""
    pairs, held_out = data
    out = tmp_path / "run.pkl"
    train(_config(), pairs, held_out, out, progress=False)
    # the run is complete, so resuming only checks the settings (a bf16 step on a CPU
    # without AVX-512 bf16 can take minutes)
    result = train(_config(bf16=True), pairs, held_out, out, resume=True, progress=False)
    assert result["steps"] == 1


def test_resume_needs_a_training_checkpoint(tmp_path, data, random_checkpoint):
    pairs, held_out = data
    with pytest.raises(EdgeIRError, match="found nothing"):
        train(_config(), pairs, held_out, tmp_path / "none.pkl", resume=True, progress=False)
    with pytest.raises(EdgeIRError, match="found weights only"):
        train(_config(), pairs, held_out, random_checkpoint, resume=True, progress=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch", "1"], "at least 2"),
        (["--size", "224"], "at least 256"),
        (["--size", "300"], "multiple of 32"),
        (["--task", "derain", "--data", "synthetic"], "deblurring task"),
        (["--device", "tpu"], "expected --device cpu, cuda or cuda:N, found 'tpu'"),
    ],
)
def test_cli_refuses_bad_settings(tmp_path, capsys, args, message):
    assert cli.main(["train", "--out", str(tmp_path / "x.pkl"), *args]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.pkl").exists()


def test_existing_output_and_changed_resume_settings_are_refused(tmp_path, data):
    pairs, held_out = data
    out = tmp_path / "run.pkl"
    train(_config(), pairs, held_out, out, progress=False)
    with pytest.raises(EdgeIRError, match="pass --resume"):
        train(_config(), pairs, held_out, out, progress=False)
    with pytest.raises(EdgeIRError, match="--lr 3e-05 \\(given 0.001\\)"):
        train(_config(steps=2, lr=1e-3), pairs, held_out, out, resume=True, progress=False)
    with pytest.raises(EdgeIRError, match="either --resume or --init"):
        train(_config(steps=2, init=str(out)), pairs, held_out, out, resume=True, progress=False)
    with pytest.raises(EdgeIRError, match="--val-every of at least 1"):
        train(_config(val_every=0), pairs, held_out, tmp_path / "new.pkl", progress=False)
    with pytest.raises(EdgeIRError, match="--clip-grad of 0 \\(off\\) or more"):
        train(_config(clip_grad=-1.0), pairs, held_out, tmp_path / "new.pkl", progress=False)


def test_divergence_stops_with_a_clear_error(tmp_path, data, monkeypatch):
    import edgeir.train as training

    pairs, held_out = data
    monkeypatch.setattr(training, "upstream_loss", lambda outputs, target, spectral_weight=0.1: outputs[2].sum() * float("nan"))
    with pytest.raises(EdgeIRError, match="expected a finite loss, found nan at step 1: training diverged"):
        train(_config(), pairs, held_out, tmp_path / "run.pkl", progress=False)
    assert not (tmp_path / "run.pkl").exists()


@pytest.mark.parametrize("bn_stats", ["frozen", "batch"])
def test_batchnorm_statistics(tmp_path, data, bn_stats):
    """With a batch of 2, batch statistics of pooled features are +-1 whatever the images:
    frozen statistics (the default) keep BatchNorm the layer evaluation will run."""
    pairs, held_out = data
    out = tmp_path / "run.pkl"
    train(_config(bn_stats=bn_stats), pairs, held_out, out, progress=False)
    torch.manual_seed(0)
    fresh = create_model("s").state_dict()
    trained = torch.load(out, weights_only=True)["model"]
    stats = [k for k in fresh if k.endswith(("running_mean", "running_var"))]
    unchanged = all(torch.equal(fresh[k], trained[k]) for k in stats)
    assert unchanged == (bn_stats == "frozen")
    with pytest.raises(EdgeIRError, match="--bn-stats frozen or batch"):
        TrainConfig(bn_stats="moving").check()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_is_refused(tmp_path, capsys):
    assert cli.main(["train", "--device", "cuda", "--out", str(tmp_path / "x.pkl")]) == 1
    assert "expected a CUDA GPU for --device cuda, found 0" in capsys.readouterr().err
    assert not (tmp_path / "x.pkl").exists()



def test_the_l1_loss_is_upstreams_without_its_fft_term():
    from edgeir.train import upstream_loss

    gen = torch.Generator().manual_seed(0)
    target = torch.rand(2, 3, 64, 64, generator=gen)
    outputs = [torch.rand(2, 3, s, s, generator=gen) for s in (16, 32, 64)]
    l1 = upstream_loss(outputs, target, spectral_weight=0.0)
    scaled = [torch.nn.functional.interpolate(target, scale_factor=f, mode="bilinear") for f in (0.25, 0.5)] + [target]
    assert torch.isclose(l1, sum((o - t).abs().mean() for o, t in zip(outputs, scaled)))
    assert upstream_loss(outputs, target) > l1  # the default adds 0.1 x the FFT term
    with pytest.raises(EdgeIRError, match="expected --loss upstream or l1, found 'l2'"):
        TrainConfig(loss="l2").check()


def test_harm_is_the_psnr_lost_against_the_blurred_input_per_crop():
    from edgeir.train import harm_db

    target = torch.zeros(2, 3, 8, 8)
    blurred = torch.full_like(target, 0.1)  # MSE 0.01 on both crops
    restored = torch.stack([torch.full((3, 8, 8), 0.2), torch.full((3, 8, 8), 0.05)])
    harm = harm_db(restored, blurred, target)
    # crop 0: MSE 0.04, 4x the input's, 6.02 dB lost; crop 1 is closer, no harm
    assert torch.allclose(harm, torch.tensor([6.0206, 0.0]), atol=1e-3)
    # with a margin, a crop that gains less than it counts: crop 1 gains 6.02 dB of the 8 asked
    assert torch.allclose(harm_db(restored, blurred, target, margin=8.0), torch.tensor([14.0206, 1.9794]), atol=1e-3)
    # an unblurred crop (input equal to its target) gives a finite, positive harm
    assert torch.isfinite(harm_db(restored, target, target)).all()
    assert (harm_db(restored, target, target) > 0).all()


def test_harm_weight_enters_the_loss_and_is_checked(tmp_path, data, monkeypatch):
    import edgeir.train as training

    pairs, held_out = data
    calls = []
    real = training.harm_db
    monkeypatch.setattr(training, "harm_db", lambda *a: calls.append(a) or real(*a))
    train(_config(harm_weight=0.5), pairs, held_out, tmp_path / "run.pkl", progress=False)
    assert len(calls) == 1 and calls[0][0].shape == calls[0][1].shape  # restored full scale vs blurred
    state = torch.load(tmp_path / "run.pkl", weights_only=True)
    assert state["config"]["harm_weight"] == 0.5 and "val_worst_gain" in state["history"][-1]
    with pytest.raises(EdgeIRError, match="--harm-weight and --harm-margin of 0 or more, found -1.0 and 0.0"):
        TrainConfig(harm_weight=-1.0).check()
