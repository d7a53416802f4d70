"""The command line: outputs, exports, and bad input (one line, exit 2, no traceback, no folder)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ganbench.cli import commands
from ganbench.cli.main import main
from tests.conftest import TINY

TINY_SET = [arg for key in TINY for arg in ("--set", key)]


def test_help_does_not_import_torch():
    code = ("import sys; from ganbench.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "usage: ganbench" in out and out.strip().endswith("NO-TORCH")


def test_console_script_reports_bad_input_in_one_line(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "ganbench", "train", "--set", "loss.name=hnge", "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "ganbench: error: loss.name: unknown loss 'hnge'; did you mean 'hinge'? losses: auxiliary_classifier, "
        "boundary_equilibrium, hinge, least_squares, minimax, non_saturating, relativistic, relativistic_average, "
        "wasserstein; presets (loss.preset=NAME or loss.name=NAME): acgan, began, dragan, wgan, wgan_gp"]
    assert not out.exists()


@pytest.mark.parametrize("args", [
    ["--set", "train.steps=-1"], ["--set", "optim.lr_g=fast"], ["--set", "nope=1"], ["--set", "data.name=mnist"],
    ["--set", "data.name=digits", "--set", "loss.penalty=r1", "--set", "model.d_norm=batch"],
    ["--set", "model.pack=7"], ["missing.yaml"], ["BAD_YAML"], ["--resume"],
])
def test_bad_input_exits_2_without_traceback_or_folder(tmp_path, capsys, monkeypatch, args):
    monkeypatch.setenv("GANBENCH_DATA", str(tmp_path / "data"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {steps: [\n")
    args = [str(bad) if a == "BAD_YAML" else a for a in args]
    out = tmp_path / "run"
    resume_args = ["--out", str(out)] if "--resume" not in args else []
    assert main(["train", *args, *resume_args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and err.startswith("ganbench: error: ")
    assert not out.exists() and not (tmp_path / "data").exists()


def test_train_with_portable_kernels_runs_them(tmp_path):
    """The CLI imports torch before it reads --cpu-kernels, but has computed nothing yet, so the variables still take
    effect (measured: reports/perf/cpu_kernels.json); result.json says which kernels ran."""
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "MKL_CBWR")}
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "ganbench", "train", *TINY_SET, "--out", str(out), "--json",
                           "--cpu-kernels", "portable"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["cpu_kernels"] == "portable" and result["aten_capability"] == "DEFAULT"


def test_cpu_kernels_choices_are_checked_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--cpu-kernels", "fast"])
    assert exit_.value.code == 2
    assert "--cpu-kernels: invalid choice: 'fast' (choose from 'native', 'portable')" in capsys.readouterr().err


def test_train_writes_its_outputs_then_resume_and_sample(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY_SET, "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    for name in ("config.yaml", "history.jsonl", "result.json", "samples.png", "checkpoint.pt"):
        assert (out / name).is_file(), name
    assert result == json.loads((out / "result.json").read_text())
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history if h["kind"] == "eval"] == [10, 20]
    assert [h["step"] for h in history if h["kind"] == "train"] == [5, 10, 15, 20]

    # A second run into the same folder must say --resume.
    assert main(["train", *TINY_SET, "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err
    # Resuming a finished run with more steps needs --force (the config changed).
    assert main(["train", *TINY_SET, "--set", "train.steps=30", "--out", str(out), "--resume"]) == 2
    assert "train.steps: differs from the checkpoint" in capsys.readouterr().err
    assert main(["train", *TINY_SET, "--set", "train.steps=30", "--out", str(out), "--resume", "--force"]) == 0
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    steps = [h["step"] for h in history if h["kind"] == "eval"]
    assert steps == [10, 20, 30]  # nothing logged twice

    points = tmp_path / "points.npy"
    assert main(["sample", str(out / "checkpoint.pt"), "--n", "7", "--out", str(points)]) == 0
    array = np.load(points)
    assert array.dtype == np.float32 and array.shape == (7, 2)
    again = tmp_path / "again.npy"
    main(["sample", str(out / "checkpoint.pt"), "--n", "7", "--out", str(again)])
    assert np.array_equal(array, np.load(again))  # same seed, same samples


def test_sample_exports_uint8_images(tmp_path):
    out = tmp_path / "run"
    image_args = ["--set", "data.name=fake", "--set", "data.shape=[3,8,8]", "--set", "train.steps=2",
                  "--set", "eval.every=2", "--set", "train.threads=1"]
    assert main(["train", *image_args, "--out", str(out), "--json"]) == 0
    target = tmp_path / "images.npy"
    assert main(["sample", str(out / "checkpoint.pt"), "--n", "5", "--out", str(target), "--seed", "3"]) == 0
    array = np.load(target)
    assert array.dtype == np.uint8 and array.shape == (5, 3, 8, 8)


def test_sample_errors(tmp_path, capsys):
    assert main(["sample", str(tmp_path / "none.pt"), "--n", "3", "--out", str(tmp_path / "x.npy")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err


def test_list_json_names_every_registry(capsys):
    assert main(["list", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert set(table) == {"datasets", "models", "losses", "penalties", "constraints", "presets", "metrics",
                          "config_keys"}
    assert "relativistic_average" in table["losses"]["entries"]
    assert table["datasets"]["entries"]["ring8"]["defaults"]["model.name"] == "mlp"
    assert main(["list"]) == 0
    assert "config keys" in capsys.readouterr().out


def test_sample_one_class_and_a_per_class_grid(tmp_path, capsys):
    out = tmp_path / "run"
    conditional = ["--set", "data.name=digits", "--set", "data.conditional=true", "--set", "eval.metrics=[]",
                   "--set", "eval.select=", "--set", "train.steps=2", "--set", "eval.every=2", "--set", "model.g_width=4",
                   "--set", "model.d_width=4", "--set", "train.threads=1"]
    assert main(["train", *conditional, "--out", str(out), "--json"]) == 0
    target, grid = tmp_path / "threes.npy", tmp_path / "grid.png"
    assert main(["sample", str(out / "checkpoint.pt"), "--n", "4", "--class", "3", "--out", str(target)]) == 0
    assert np.load(target).shape == (4, 1, 8, 8)
    assert main(["sample", str(out / "checkpoint.pt"), "--n", "4", "--out", str(target), "--grid", str(grid)]) == 0
    assert grid.stat().st_size > 0
    assert main(["sample", str(out / "checkpoint.pt"), "--n", "4", "--class", "12", "--out", str(target)]) == 2
    assert "--class: 12 is not a class" in capsys.readouterr().err


def test_positional_key_value_overrides_are_set_overrides(tmp_path, capsys):
    """Hydra-style `ganbench train optim.lr_g=1e-3`: the same config as --set, beside an optional YAML file."""
    config_file = tmp_path / "base.yaml"
    config_file.write_text("loss.name: hinge\n")
    positional, with_set = tmp_path / "positional", tmp_path / "with_set"
    assert main(["train", str(config_file), *TINY, "optim.lr_g=1e-3", "--out", str(positional), "--json"]) == 0
    assert main(["train", str(config_file), *TINY_SET, "--set", "optim.lr_g=1e-3", "--out", str(with_set),
                 "--json"]) == 0
    capsys.readouterr()
    written = [(folder / "config.yaml").read_text() for folder in (positional, with_set)]
    assert written[0] == written[1] and "lr_g: 0.001" in written[0] and "name: hinge" in written[0]
    with pytest.raises(SystemExit) as refused:
        main(["train", str(config_file), str(config_file)])
    assert refused.value.code == 2 and "one config file" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["sweep", "reproduce"])
def test_sweep_and_reproduce_take_key_value_overrides(command, capsys, monkeypatch):
    """Positional KEY=VALUE after the file reach the driver as --set does; anything else is refused in one line."""
    seen = {}
    monkeypatch.setitem(commands.COMMANDS, command, lambda args: seen.setdefault("overrides", args.overrides) and 0)
    assert main([command, "file.yaml", "train.steps=20", "--set", "eval.every=5"]) == 0
    assert seen["overrides"] == ["train.steps=20", "eval.every=5"]
    with pytest.raises(SystemExit) as refused:
        main([command, "file.yaml", "stray"])
    assert refused.value.code == 2 and "expected KEY=VALUE, got stray" in capsys.readouterr().err


def test_the_command_line_offers_the_budgets_without_loading_torch():
    """The CLI takes the budgets from the module the sweep files are checked against, which imports nothing; so
    ``--help`` stays fast without a copy of them."""
    import subprocess
    import sys

    code = ("import importlib, sys; m = importlib.import_module('ganbench.cli.main'); import ganbench.sweep.budgets as b; "
            "print(m.BUDGETS is b.BUDGETS, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["True", "False"], done.stderr


@pytest.mark.parametrize("content", [b"hello\n", b"PK\x03\x04truncated"])
def test_evaluating_a_file_that_is_not_a_checkpoint_is_one_line(tmp_path, capsys, content):
    path = tmp_path / "x.pt"
    path.write_bytes(content)
    assert main(["evaluate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ganbench: error: {path}: not a ganbench checkpoint, or a truncated one")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


# KEY=VALUE on sweep and reproduce: it changes what runs, or is refused in one line saying why.

RING8 = "search_spaces/benchmarks/ring8_pacgan.yaml"


@pytest.mark.parametrize(("command", "field"), [("sweep", "overrides"), ("reproduce", "overrides"),
                                                 ("train", "overrides")])
def test_key_value_after_an_option_is_an_override(command, field, monkeypatch):
    seen = {}
    monkeypatch.setitem(commands.COMMANDS, command, lambda args: seen.setdefault("args", args) and 0)
    flag = {"sweep": "--plan", "reproduce": "--dry-run", "train": "--json"}[command]
    assert main([command, "file.yaml", flag, "train.steps=500", "--set", "eval.every=5", "model.g_width=8"]) == 0
    assert sorted(getattr(seen["args"], field)) == ["eval.every=5", "model.g_width=8", "train.steps=500"]


@pytest.mark.parametrize("command", ["sweep", "reproduce"])
def test_a_stray_word_after_an_option_names_the_command_not_the_top_level(command, capsys):
    with pytest.raises(SystemExit) as refused:
        main([command, "file.yaml", "--name", "x", "stray"])
    err = capsys.readouterr().err
    assert refused.value.code == 2 and f"usage: ganbench {command} " in err and "usage: ganbench [-h]" not in err
    assert f"ganbench {command}: error: expected KEY=VALUE, got stray" in err


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err.strip()


def test_a_sweep_override_of_a_compared_key_is_refused_in_one_line(capsys):
    assert main(["sweep", RING8, "loss.name=least_squares", "model.pack=8", "--plan"]) == 2
    assert one_line_error(capsys).startswith("ganbench: error: loss.name: compared by study ring8_pacgan "
                                             "(`scientific:`), so a command-line override cannot fix it")


def test_reproduce_refuses_a_compared_key_before_its_dry_run(capsys):
    assert main(["reproduce", "ring8_pacgan", "loss.name=hnge", "--dry-run"]) == 2
    captured = capsys.readouterr()
    assert "passed" not in captured.out and len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("ganbench: error: loss.name: compared by study ring8_pacgan")


def test_a_tuned_key_with_a_bad_value_is_refused(capsys):
    assert main(["sweep", "search_spaces/quickstart.yaml", "optim.lr_g=-5", "--plan"]) == 2
    assert one_line_error(capsys) == "ganbench: error: optim.lr_g: must be > 0.0, got -5.0"  # as the file's would


def test_a_mistyped_sweep_file_suggests_the_closest(capsys, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    assert main(["sweep", "search_spaces/quickstrat.yaml", "--plan"]) == 2
    assert one_line_error(capsys).endswith("did you mean search_spaces/quickstart.yaml?")
    assert main(["sweep", "quickstart"]) == 2
    assert one_line_error(capsys).endswith("did you mean search_spaces/quickstart.yaml?")


def small_sweep(tmp_path, seeds: int):
    from pathlib import Path

    import yaml

    tree = yaml.safe_load((Path(__file__).resolve().parents[1] / "sweep" / "files" / "tiny.yaml").read_text())
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump({**tree, "seeds": seeds, "reference": []}))
    return path


def test_the_plan_warns_below_three_seeds_and_shows_what_overrides_change(tmp_path, capsys):
    assert main(["sweep", str(small_sweep(tmp_path, 2)), "--plan", "train.steps=20", "model.g_width=32"]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == [
        "ganbench: warning: study tiny: seeds 2 is below 3: the report cannot rank its values or test their "
        "differences; set seeds: 3 or more"]
    assert "study tiny: command-line overrides, in every trial: train.steps 30 -> 20, model.g_width 32 (the file's " \
           "value already)" in captured.out
    assert "20 generator steps per trial" in captured.out


def test_the_plan_of_enough_seeds_warns_nothing(tmp_path, capsys):
    assert main(["sweep", str(small_sweep(tmp_path, 3)), "--plan"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "overrides" not in captured.out


def test_the_loss_list_names_the_presets_a_loss_name_takes(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "losses (loss.name; a preset's name works too, see presets):" in out


def test_an_unknown_word_after_another_command_shows_that_commands_usage(capsys):
    with pytest.raises(SystemExit) as refused:
        main(["sample", "x.pt", "--n", "3", "--out", "x.npy", "stray"])
    err = capsys.readouterr().err
    assert refused.value.code == 2 and "usage: ganbench sample " in err
    assert "ganbench sample: error: unrecognized arguments: stray" in err
