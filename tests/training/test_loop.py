"""The trainable: smoke runs, determinism, resume == uninterrupted, divergence, best/final."""

from __future__ import annotations

import io
import math

import pytest
import torch

from ganbench.errors import ConfigError
from ganbench.gan.losses import LOSSES, NonSaturating
from ganbench.gan.penalties import PENALTIES
from ganbench.gan.presets import PRESETS
from ganbench.training import checkpoint
from ganbench.training.loop import train
from tests.conftest import tiny_config


class Recorder:
    """Collects reports; copies each state through torch.save / weights_only load, as a caller would."""

    def __init__(self) -> None:
        self.metrics: list[dict[str, float]] = []
        self.states: list[dict] = []

    def __call__(self, metrics, state) -> None:
        self.metrics.append(metrics)
        if state is not None:
            buffer = io.BytesIO()
            torch.save(state, buffer)
            buffer.seek(0)
            self.states.append(torch.load(buffer, weights_only=True))


# Settings that give a loss the D outputs it requires: keyed by requirement, never by loss name.
REQUIREMENT_OVERRIDES = {"class_logits": ("data.conditional=true", "model.d_conditioning=classifier"),
                         "labels": ("data.conditional=true",), "reconstruction_error": ("model.name=began",)}


def overrides_for(loss: str) -> list[str]:
    return sorted({o for need in LOSSES.get(loss).requires for o in REQUIREMENT_OVERRIDES[need]})


def without_timing(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "wall_time_s"}


def assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_smoke_run_reports_every_evaluation(tiny):
    recorder = Recorder()
    result = train(tiny, recorder)
    assert [m["step"] for m in recorder.metrics] == [10, 20]
    assert result["steps"] == 20 and result["diverged"] is False
    for key in ("modes", "hq_fraction", "reverse_kl"):
        assert math.isfinite(result[f"final_{key}"]) and f"best_{key}" in result
    for key in ("d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm"):
        assert math.isfinite(recorder.metrics[-1][key])
    assert result["final_reverse_kl"] == recorder.metrics[-1]["reverse_kl"]
    # The checkpoint is selected on eval.select (2-D: balanced_hq_fraction, which noise cannot win), the first on a tie
    assert tiny.eval.select == "balanced_hq_fraction"
    best = max(recorder.metrics, key=lambda m: m["balanced_hq_fraction"])
    assert result["best_balanced_hq_fraction"] == best["balanced_hq_fraction"]
    assert result["best_reverse_kl"] == best["reverse_kl"] and result["best_step"] == best["step"]


def test_same_config_gives_bitwise_identical_runs():
    config = tiny_config("loss.name=relativistic_average", "optim.ema=0.9")
    first, second = Recorder(), Recorder()
    assert without_timing(train(config, first)) == without_timing(train(config, second))
    assert first.metrics == second.metrics
    assert_same_tensors(first.states[-1]["generator"], second.states[-1]["generator"])
    assert_same_tensors(first.states[-1]["discriminator"], second.states[-1]["discriminator"])


def test_evaluation_cadence_does_not_change_training():
    sparse, dense = Recorder(), Recorder()
    train(tiny_config("eval.every=20"), sparse)
    train(tiny_config("eval.every=5"), dense)
    assert_same_tensors(sparse.states[-1]["generator"], dense.states[-1]["generator"])
    assert sparse.metrics[-1]["reverse_kl"] == dense.metrics[-1]["reverse_kl"]


def test_seed_changes_the_run():
    a, b = Recorder(), Recorder()
    train(tiny_config("seed=1"), a)
    train(tiny_config("seed=2"), b)
    assert not torch.equal(a.states[-1]["generator"]["body.0.weight"], b.states[-1]["generator"]["body.0.weight"])


@pytest.mark.parametrize("extra", [(), ("loss.name=wgan", "optim.ema=0.5"), ("loss.name=dragan",),
                                   ("data.conditional=true", "loss.penalty=r1"),
                                   ("loss.name=auxiliary_classifier", *overrides_for("auxiliary_classifier")),
                                   ("loss.name=boundary_equilibrium", *overrides_for("boundary_equilibrium"))],
                         ids=["non_saturating", "wgan+ema", "dragan", "conditional+r1", "acgan", "began"])
def test_resume_equals_uninterrupted(extra):
    config = tiny_config("train.steps=30", *extra)
    uninterrupted = Recorder()
    expected = train(config, uninterrupted)
    resumed = Recorder()
    result = train(config, resumed, resume=uninterrupted.states[0])  # the checkpoint at step 10
    assert without_timing(result) == without_timing(expected)
    assert resumed.metrics == uninterrupted.metrics[1:]
    for key in ("generator", "discriminator", "best_generator"):
        assert_same_tensors(resumed.states[-1][key], uninterrupted.states[-1][key])


def test_resume_with_another_config_is_refused_unless_forced():
    config = tiny_config()
    recorder = Recorder()
    train(config, recorder)
    changed = tiny_config("optim.lr_g=0.001", "train.steps=30")
    with pytest.raises(ConfigError, match=r"^optim.lr_g: differs from the checkpoint"):
        train(changed, resume=recorder.states[0])
    assert train(changed, resume=recorder.states[0], force=True)["steps"] == 30


def test_checkpoint_is_plain_data(tmp_path):
    recorder = Recorder()
    train(tiny_config(), recorder)
    state = recorder.states[-1]
    path = checkpoint.save(state, tmp_path / "checkpoint.pt")
    loaded = checkpoint.load(path)  # weights_only=True inside
    assert loaded["step"] == 20 and isinstance(loaded["config"], dict)
    assert checkpoint.config_of(loaded) == tiny_config()
    assert set(loaded) >= {"generator", "discriminator", "optimizer_g", "optimizer_d", "rng", "step", "config"}


def test_divergence_ends_the_run_with_finite_sentinels(monkeypatch):
    calls = {"n": 0}
    original = NonSaturating.generator_loss

    def explode_after_twelve(self, real, fake):
        calls["n"] += 1
        value = original(self, real, fake)
        return value * float("nan") if calls["n"] > 12 else value

    monkeypatch.setattr(NonSaturating, "generator_loss", explode_after_twelve)
    recorder = Recorder()
    result = train(tiny_config(), recorder)
    assert result["diverged"] is True and result["steps"] == 15  # caught at the next record (log_every=5)
    assert result["final_reverse_kl"] == pytest.approx(math.log(8)) and result["final_modes"] == 0
    assert recorder.metrics[-1]["diverged"] == 1.0
    assert all(math.isfinite(v) for m in recorder.metrics for v in m.values())
    assert result["best_step"] == 10  # the evaluation before divergence stays the best


@pytest.mark.parametrize("pack", [1, 2])
@pytest.mark.parametrize("loss", LOSSES.names())
@pytest.mark.parametrize("penalty", PENALTIES.names())
def test_every_loss_and_penalty_trains(loss, penalty, pack):
    """Every loss with every penalty, with and without PacGAN packing."""
    result = train(tiny_config(f"loss.name={loss}", f"loss.penalty={penalty}", *overrides_for(loss), "train.steps=4",
                               "eval.every=4", f"model.pack={pack}"))
    assert result["diverged"] is False and result["steps"] == 4


@pytest.mark.parametrize("preset", PRESETS.names())
def test_every_preset_trains(preset):
    config = tiny_config(f"loss.name={preset}", "train.steps=4", "eval.every=4")
    assert config.loss.preset == preset
    assert train(config)["diverged"] is False


@pytest.mark.parametrize("model", ["dcgan", "infogan"])
def test_image_smoke_run(model):
    config = tiny_config("data.name=fake", f"model.name={model}", "data.shape=[1,8,8]", "train.batch_size=8",
                         "model.g_width=4", "model.d_width=4", "model.latent_dim=8", "train.steps=4", "eval.every=2")
    recorder = Recorder()
    result = train(config, recorder)
    assert result["steps"] == 4 and not result["diverged"]
    assert result["best_step"] == 4  # no metric selects a generator yet: the last one stands


def test_pack_and_spectral_norm_train():
    result = train(tiny_config("model.pack=2", "model.d_spectral_norm=true", "train.steps=4", "eval.every=4"))
    assert not result["diverged"]


def test_disc_steps_draw_that_many_real_batches(monkeypatch):
    from ganbench.data import ShuffledBatches

    draws = {"n": 0}
    original = ShuffledBatches.next

    def counting(self):
        draws["n"] += 1
        return original(self)

    monkeypatch.setattr(ShuffledBatches, "next", counting)
    train(tiny_config("train.disc_steps=3", "train.steps=4", "eval.every=4"))
    assert draws["n"] == 12


def test_numerical_blow_up_without_a_nan_loss_is_divergence():
    # A penalty weight near float32's maximum overflows D's gradients: the loss stays finite, the update is lost.
    result = train(tiny_config("loss.penalty=gradient_penalty", "loss.penalty_weight=3e38"))
    assert result["diverged"] is True and result["steps"] == 5
    assert result["final_reverse_kl"] == pytest.approx(math.log(8))


def test_requirement_overrides_cover_every_requirement():
    needs = {need for _, loss in LOSSES.items() for need in loss.requires}
    assert needs <= set(REQUIREMENT_OVERRIDES) and {"class_logits", "reconstruction_error"} <= needs


@pytest.mark.parametrize("conditioning", ["projection", "classifier"])
def test_conditional_image_smoke_run(conditioning):
    config = tiny_config("data.name=fake", "model.name=dcgan", "data.shape=[1,8,8]", "train.batch_size=8",
                         "model.g_width=4", "model.d_width=4", "model.latent_dim=8", "train.steps=4", "eval.every=2",
                         "data.conditional=true", f"model.d_conditioning={conditioning}", "model.pack=2")
    result = train(config)
    assert result["steps"] == 4 and not result["diverged"]


def test_loss_diagnostics_are_logged():
    """BEGAN's k and convergence measure reach the records, averaged over D steps."""
    records = []
    config = tiny_config("loss.name=boundary_equilibrium", *overrides_for("boundary_equilibrium"),
                         "loss.began_lambda=0.05", "train.disc_steps=2")
    result = train(config, progress=lambda step, record: records.append(record))
    assert not result["diverged"] and records
    for record in records:
        assert 0.0 <= record["began_k"] <= 1.0 and record["began_convergence"] > 0
    assert result["final_began_k"] == records[-1]["began_k"]
    assert any(record["began_k"] > 0 for record in records)  # the control moved
