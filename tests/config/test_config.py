from __future__ import annotations

import pytest

from ganbench.config import FIELDS, field_default, from_dict, load_config, parse_override, to_dict, to_flat
from ganbench.data import DATASETS
from ganbench.errors import ConfigError, GanbenchError


def test_public_keys_exist():
    contract = ["data.name", "data.root", "model.name", "loss.name", "loss.penalty", "loss.penalty_weight",
                "optim.lr_g", "optim.lr_d", "optim.beta1", "optim.beta2", "train.steps", "train.batch_size",
                "train.disc_steps", "eval.every", "seed", "device"]
    assert set(contract) <= set(FIELDS)


def test_every_key_is_documented():
    assert all(f.metadata.get("help") for f, _ in FIELDS.values())


def test_config_is_frozen():
    config = load_config()
    with pytest.raises(AttributeError):
        config.train.steps = 3  # type: ignore[misc]


@pytest.mark.parametrize("name", DATASETS.names())
def test_every_dataset_default_is_a_valid_config(name):
    config = load_config(overrides=[f"data.name={name}"])
    for key, value in DATASETS.get(name).defaults.items():
        expected = tuple(value) if isinstance(value, list) else value
        assert to_flat(config)[key] == (list(expected) if isinstance(expected, tuple) else expected), key


def test_precedence_defaults_preset_yaml_set(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("data:\n  name: digits\noptim:\n  lr_g: 0.001\ntrain.steps: 7\n")
    config = load_config(path, ["train.steps=9", "loss.name=wgan_gp", "optim.beta2=0.99"])
    assert config.data.name == "digits"
    assert config.model.name == DATASETS.get("digits").defaults["model.name"]  # dataset default
    assert config.optim.lr_g == 0.001  # YAML beats the dataset
    assert config.train.steps == 9  # --set beats YAML
    assert (config.loss.name, config.loss.penalty, config.loss.preset) == ("wasserstein", "gradient_penalty", "wgan_gp")
    assert config.optim.beta1 == 0.0 and config.optim.beta2 == 0.99  # preset, then --set beats the preset
    assert config.model.d_norm == "none"  # the preset removes batch norm from D for its penalty


def test_round_trip_through_plain_dict():
    config = load_config(overrides=["loss.name=wgan", "data.name=grid25"])
    assert from_dict(to_dict(config)) == config


@pytest.mark.parametrize(("text", "expected"), [
    ("optim.lr_g=1e-4", ("optim.lr_g", "1e-4")), ("train.steps=10", ("train.steps", 10)),
    ("data.shape=[3, 32, 32]", ("data.shape", [3, 32, 32])), ("model.d_spectral_norm=true", ("model.d_spectral_norm", True)),
])
def test_parse_override(text, expected):
    assert parse_override(text) == expected


def test_float_spellings_and_lists():
    config = load_config(overrides=["optim.lr_g=1e-4", "optim.lr_d=1", "data.name=fake", "data.shape=3x32x32"])
    assert config.optim.lr_g == pytest.approx(1e-4)  # PyYAML reads "1e-4" as a string
    assert config.optim.lr_d == 1.0 and isinstance(config.optim.lr_d, float)
    assert config.data.shape == (3, 32, 32)


@pytest.mark.parametrize(("override", "message"), [
    ("trian.steps=3", "trian.steps: unknown config key; did you mean 'train.steps'?"),
    ("train.steps=abc", "train.steps: expected an integer, got 'abc'"),
    ("train.steps=1.5", "train.steps: expected an integer, got 1.5"),
    ("train.steps=0", "train.steps: must be >= 1, got 0"),
    ("optim.lr_g=abc", "optim.lr_g: expected a number, got 'abc'"),
    ("optim.lr_g=nan", "optim.lr_g: expected a finite number"),
    ("optim.beta1=1.0", "optim.beta1: must be < 1.0, got 1.0"),
    ("model.d_spectral_norm=maybe", "model.d_spectral_norm: expected true or false, got 'maybe'"),
    ("optim.name=sgd", "optim.name: invalid value 'sgd'; available: adam, rmsprop"),
    ("loss.name=hnge", "loss.name: unknown loss 'hnge'; did you mean 'hinge'?"),
    ("loss.penalty=gp", "loss.penalty: unknown penalty 'gp'"),
    ("data.name=mnits", "data.name: unknown dataset 'mnits'; did you mean 'mnist'?"),
    ("model.name=dcgan", "model.name: dcgan expects square C x H x W images"),
    ("eval.metrics=[fid]", "eval.metrics: unknown metric 'fid'"),
    ("eval.select=fid", "eval.select: 'fid' is not a key of eval.metrics; "
                        "available: balanced_hq_fraction, hq_fraction, modes, reverse_kl"),
    ("model.pack=3", "train.batch_size: 100 is not divisible by model.pack=3"),
    ("device=tpu", "device: invalid value 'tpu'"),
    ("model.init=xavier", "model.init: invalid value 'xavier'; available: default, normal_0.02"),
    ("model.pack_mode=paper", "model.pack_mode: invalid value 'paper'"),
    ("model.bn_eps=0", "model.bn_eps: must be > 0.0, got 0.0"),
    ("model.bn_momentum=1.5", "model.bn_momentum: must be <= 1.0, got 1.5"),
    ("train.update=together", "train.update: invalid value 'together'"),
    ("train.compile=maybe", "train.compile: expected true or false"),
    ("eval.bn_reestimate_batches=-1", "eval.bn_reestimate_batches: must be >= 0"),
    ("--set", "--set: expected key=value"),
])
def test_bad_input_names_the_key(override, message):
    with pytest.raises(ConfigError) as error:
        load_config(overrides=[override])
    text = str(error.value)
    assert message in text and "\n" not in text


def test_simultaneous_updates_need_one_discriminator_step():
    with pytest.raises(ConfigError, match="train.update: simultaneous .* set train.disc_steps=1"):
        load_config(overrides=["train.update=simultaneous", "train.disc_steps=2"])
    load_config(overrides=["train.update=simultaneous", "loss.penalty=gradient_penalty"])  # a penalty is a D term


def test_pacgan_packing_needs_no_divisible_batch():
    load_config(overrides=["model.pack=3", "model.pack_mode=pacgan"])


def test_penalty_with_batch_norm_in_d_is_refused():
    with pytest.raises(ConfigError, match=r"^loss.penalty: gradient_penalty is a per-sample penalty.*model.d_norm"):
        load_config(overrides=["data.name=digits", "loss.penalty=gradient_penalty", "model.d_norm=batch"])


def test_metric_must_fit_the_dataset():
    with pytest.raises(ConfigError, match="eval.metrics: modes2d needs a 2-D Gaussian mixture"):
        load_config(overrides=["data.name=digits", "eval.metrics=[modes2d]"])


def test_malformed_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  steps: [1\n")
    with pytest.raises(GanbenchError, match=r"malformed YAML \(line"):
        load_config(bad)
    with pytest.raises(GanbenchError, match="no such file"):
        load_config(tmp_path / "missing.yaml")
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n- 2\n")
    with pytest.raises(GanbenchError, match="expected a mapping"):
        load_config(listing)


def test_defaults_are_ring8_with_its_documented_settings():
    flat = to_flat(load_config())
    documented = DATASETS.get("ring8").defaults
    assert flat["data.name"] == "ring8" and flat["model.name"] == "mlp" and flat["loss.name"] == "non_saturating"
    for key, value in flat.items():
        expected = documented.get(key, field_default(key))
        assert value == (list(expected) if isinstance(expected, tuple) else expected), key


@pytest.mark.parametrize(("typed", "preset"), [("wgan_pg", "wgan_gp"), ("dragn", "dragan")])
def test_a_preset_misspelt_as_a_loss_is_suggested_as_a_preset(typed, preset):
    """loss.name takes a loss or a preset's name, so an unknown one lists both and suggests the preset's key."""
    with pytest.raises(ConfigError) as refused:
        load_config(overrides=[f"loss.name={typed}"])
    message = str(refused.value)
    assert message.startswith(f"loss.name: unknown loss {typed!r}; did you mean the preset '{preset}' "
                              f"(loss.preset={preset})?")
    assert "hinge" in message and "presets (loss.preset=NAME or loss.name=NAME): " in message and "wgan_gp" in message


def test_a_misspelt_loss_is_suggested_as_a_loss_beside_the_presets():
    with pytest.raises(ConfigError, match=r"^loss\.name: unknown loss 'hnge'; did you mean 'hinge'\? losses: .*; "
                                          r"presets \(loss.preset=NAME or loss.name=NAME\): .*wgan_gp"):
        load_config(overrides=["loss.name=hnge"])
    assert load_config(overrides=["loss.name=wgan_gp"]).loss.preset == "wgan_gp"  # a preset's name stays a loss.name
