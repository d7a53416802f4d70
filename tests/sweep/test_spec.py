"""Sweep files are validated before Ray starts; every error names its key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ganbench.errors import ConfigError, GanbenchError
from ganbench.sweep.spec import Resources, Scheduler, Searcher, StudyKeys, load_sweep, parse_sweep

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "tests" / "sweep" / "files" / "tiny.yaml").read_text())


def write(tmp_path, tree) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


@pytest.mark.parametrize("path", sorted(ROOT.glob("search_spaces/*.yaml")) + sorted(ROOT.glob("tests/sweep/files/*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_sweep_files_validate(path):
    sweep = load_sweep(path)
    assert sweep.studies and len(sweep.sha256) == 64


def test_values_spaces_and_configs():
    study = load_sweep(ROOT / "tests" / "sweep" / "files" / "tiny.yaml").studies[0]
    assert [study.label(v) for v in study.values()] == ["non_saturating", "hinge"]
    assert set(study.space({"loss.name": "hinge"})) == {"optim.lr_g", "optim.lr_d"}
    assert set(study.space({"loss.name": "non_saturating"})) == {"optim.lr_g"}


def test_cross_product_of_scientific_keys(tmp_path):
    tree = {**BASE, "scientific": {"loss.name": ["hinge", "least_squares"], "model.pack": [1, 2]}, "reference": []}
    tree["nuisance"] = {"optim.lr_g": {"uniform": [1e-4, 1e-3]}}
    assert len(load_sweep(write(tmp_path, tree)).studies[0].values()) == 4


@pytest.mark.parametrize(("change", "message"), [
    ({"metrc": "x"}, "metrc: unknown sweep key; did you mean 'metric'?"),
    ({"mode": "lowest"}, "mode: invalid value 'lowest'; available: max, min"),
    ({"metric": "fid"}, "metric: 'fid' is not reported for non_saturating"),
    ({"num_samples": -1}, "num_samples: expected an integer >= 0, got -1"),
    ({"num_samples": 0}, "num_samples: 0 runs no search, but non_saturating has tuned parameters (optim.lr_g)"),
    ({"num_samples": 0, "nuisance": {}, "seeds": 0}, "seeds: 0 with num_samples 0 leaves nothing to run"),
    ({"fixed": {"train.stesp": 3}}, "fixed.train.stesp: unknown config key; did you mean 'train.steps'?"),
    ({"scientific": {"loss.name": ["hinge", "hnge"]}}, "loss.name: unknown loss 'hnge'"),
    ({"nuisance": {"optim.lr_g": {"logunif": [1, 2]}}}, "nuisance.optim.lr_g: unknown distribution 'logunif'"),
    ({"nuisance": {"optim.lr_g": {"loguniform": [0, 1]}}}, "nuisance.optim.lr_g: loguniform needs low > 0"),
    ({"nuisance": {"optim.lr_g": {"uniform": [2, 1]}}}, "nuisance.optim.lr_g: low must be below high"),
    ({"nuisance": {"per_value": {"wgan": {"loss.clip_value": {"uniform": [0.01, 0.1]}}}}},
     "nuisance.per_value.wgan: not a compared value"),
    ({"searcher": {"name": "optuna", "sampler": "cmaes"}}, "searcher.sampler: invalid value 'cmaes'"),
    ({"scheduler": {"name": "pbt"}}, "scheduler.name: invalid value 'pbt'; available: asha, none"),
    ({"rank_on": "average"}, "rank_on: invalid value 'average'; available: best, last"),
    ({"searcher": {"name": "optuna", "storage": "redis://host/0"}}, "searcher.storage: expected an Optuna RDB URL"),
    ({"searcher": {"name": "optuna", "storage": "sqlite:///optuna.db"}},
     "searcher.storage: a sqlite file needs an absolute path"),
    ({"fixed": {**BASE["fixed"], "loss.penalty": "r1", "model.d_norm": "batch"}}, "loss.penalty: r1 is a per-sample"),
])
def test_bad_sweep_files_name_the_key(tmp_path, change, message):
    with pytest.raises(ConfigError) as error:
        load_sweep(write(tmp_path, {**BASE, **change}))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_studies_list_and_malformed_yaml(tmp_path):
    two = write(tmp_path, {"studies": [BASE, {**BASE, "study": "other"}]})
    assert [s.name for s in load_sweep(two).studies] == ["tiny", "other"]
    with pytest.raises(ConfigError, match="study names must be unique"):
        load_sweep(write(tmp_path, {"studies": [BASE, BASE]}))
    bad = tmp_path / "bad.yaml"
    bad.write_text("study: [x\n")
    with pytest.raises(GanbenchError, match="malformed YAML"):
        load_sweep(bad)


def test_explicit_variants_and_their_labels(tmp_path):
    tree = {**BASE, "reference": [], "nuisance": {"optim.lr_g": {"uniform": [1e-4, 1e-3]}},
            "scientific": [{"loss.name": "non_saturating", "model.pack": 1},
                           {"loss.name": "non_saturating", "model.pack": 2}, {"loss.name": "hinge", "model.pack": 1}],
            "baseline": "non_saturating,1"}
    study = load_sweep(write(tmp_path, tree)).studies[0]
    assert [study.label(v) for v in study.values()] == ["non_saturating,1", "non_saturating,2", "hinge,1"]
    assert study.config(study.values()[1], {})["model.pack"] == 2
    with pytest.raises(ConfigError, match="share a label"):
        load_sweep(write(tmp_path, {**tree, "scientific": [{"loss.name": "hinge"}, {"loss.name": "hinge"}]}))
    with pytest.raises(ConfigError, match=r"baseline: not a compared value; did you mean 'non_saturating,"):
        load_sweep(write(tmp_path, {**tree, "baseline": "non_saturating,3"}))
    with pytest.raises(ConfigError, match=r"scientific\[1\]\.loss\.nme: unknown config key"):
        load_sweep(write(tmp_path, {**tree, "scientific": [{"loss.name": "hinge"}, {"loss.nme": "hinge"}]}))


def test_reference_rows_without_a_counterpart_are_context(tmp_path):
    context = {"source": "VEEGAN Table 1", "row": "VEEGAN", "metric": "modes", "mean": 8, "tolerance": 0.5,
               "note": "not implemented"}
    assert load_sweep(write(tmp_path, {**BASE, "reference": [context]})).studies[0].reference == [context]
    with pytest.raises(ConfigError, match=r"reference\[0\]\.value: not a compared value"):
        load_sweep(write(tmp_path, {**BASE, "reference": [{**context, "value": "veegan"}]}))


def test_benchmark_budgets_override_study_keys(tmp_path):
    benchmark = {"title": "t", "budgets": {"small": {"fixed": {"train.steps": 40}, "seeds": 10, "num_samples": 3},
                                           "paper": {"fixed": {"train": {"steps": 400000}}, "seeds": 50}}}
    path = write(tmp_path, {**BASE, "benchmark": benchmark})
    small, paper = load_sweep(path).studies[0], load_sweep(path, "paper").studies[0]
    assert (small.fixed["train.steps"], small.seeds, small.num_samples) == (40, 10, 3)
    assert (paper.fixed["train.steps"], paper.seeds, paper.num_samples) == (400000, 50, 2)
    assert small.fixed["data.size"] == paper.fixed["data.size"] == 2000  # other fixed keys stay
    with pytest.raises(ConfigError, match=r"benchmark.budgets.huge: unknown budget; available: medium, paper, small"):
        load_sweep(write(tmp_path, {**BASE, "benchmark": {"budgets": {"huge": {}}}}))
    with pytest.raises(ConfigError, match=r"benchmark.budgets.small.seed: unknown sweep key; did you mean 'seeds'"):
        load_sweep(write(tmp_path, {**BASE, "benchmark": {"budgets": {"small": {"seed": 3}}}}))
    with pytest.raises(ConfigError, match=r"--budget: invalid value 'paper'; available: small"):
        load_sweep(write(tmp_path, {**BASE, "benchmark": {"budgets": {"small": {}}}}), "paper")


def test_searcher_scheduler_and_resources_keys_are_checked(tmp_path):
    with pytest.raises(ConfigError, match=r"searcher.n_startup: unknown key; did you mean 'n_startup_trials'"):
        load_sweep(write(tmp_path, {**BASE, "searcher": {"name": "optuna", "n_startup": 3}}))
    with pytest.raises(ConfigError, match=r"scheduler.grace: unknown key; available: grace_period, name, reduction_factor"):
        load_sweep(write(tmp_path, {**BASE, "scheduler": {"name": "asha", "grace": 3}}))
    with pytest.raises(ConfigError, match=r"resources.gpus: unknown key; did you mean 'gpu'"):
        load_sweep(write(tmp_path, {**BASE, "resources": {"gpus": 1}}))


@pytest.mark.parametrize(("num_samples", "explicit", "startup"), [(2, 0, 3), (12, 0, 4), (100, 0, 10), (12, 6, 6)])
def test_tpe_start_up_scales_with_the_budget(tmp_path, num_samples, explicit, startup):
    searcher = {"name": "optuna", "sampler": "tpe", **({"n_startup_trials": explicit} if explicit else {})}
    study = load_sweep(write(tmp_path, {**BASE, "num_samples": num_samples, "searcher": searcher})).studies[0]
    assert study.startup_trials() == startup


@pytest.mark.parametrize(("rank_on", "objective"), [(None, "best_reverse_kl"), ("best", "best_reverse_kl"),
                                                    ("last", "reverse_kl")])
def test_trials_are_judged_on_their_best_checkpoint_by_default(tmp_path, rank_on, objective):
    tree = {**BASE, **({"rank_on": rank_on} if rank_on else {})}
    assert load_sweep(write(tmp_path, tree)).studies[0].objective == objective


def test_plain_sweep_files_hash_as_before_budgets_existed():
    import hashlib

    from ganbench import __version__

    sweep = load_sweep(ROOT / "tests" / "sweep" / "files" / "tiny.yaml")
    assert sweep.sha256 == hashlib.sha256((sweep.text + "\n" + __version__).encode()).hexdigest()


def test_reference_metric_and_protocol_keys_are_checked(tmp_path):
    row = {"source": "s", "row": "r", "value": "hinge", "metric": "reverse_kl", "mean": 1, "tolerance": 0.1}
    with pytest.raises(ConfigError, match=r"reference\[0\]\.metric: 'modse' is not reported for hinge; did you mean"):
        load_sweep(write(tmp_path, {**BASE, "reference": [{**row, "metric": "modse"}]}))
    with pytest.raises(ConfigError, match=r"reference\[0\]\.protocol\.step: unknown protocol key; did you mean 'steps'"):
        load_sweep(write(tmp_path, {**BASE, "reference": [{**row, "protocol": {"step": 1}}]}))
    # A context row may name a metric computed elsewhere (Inception FID on MNIST).
    load_sweep(write(tmp_path, {**BASE, "reference": [{**row, "value": None, "metric": "fid_inception"}]}))


@pytest.mark.parametrize(("change", "message"), [
    # A scientific key that changes the budget: each value would get another max_t and grace period.
    ({"scientific": [{"loss.name": "hinge", "train.steps": 30}, {"loss.name": "non_saturating", "train.steps": 60}]},
     "train.steps: differs between compared values (hinge,30: 30, non_saturating,60: 60)"),
    # A per-value extra that moves the evaluation cadence.
    ({"scientific": [{"loss.name": "hinge"}, {"loss.name": "non_saturating", "eval.every": 5}]},
     "eval.every: differs between compared values (hinge: 10, 5,non_saturating: 5)"),
    ({"scientific": [{"loss.name": "hinge"}, {"loss.name": "non_saturating", "eval.n_samples": 100}]},
     "eval.n_samples: differs between compared values (hinge: 500, 100,non_saturating: 100)"),
    ({"nuisance": {"train.steps": {"int": [10, 30]}}}, "nuisance.train.steps: is part of the budget"),
])
def test_values_that_disagree_on_the_shared_budget_are_refused(tmp_path, change, message):
    tree = {key: value for key, value in {**BASE, **change}.items() if key != "reference"}
    if "scientific" in change:
        tree["nuisance"] = {"optim.lr_g": {"uniform": [1e-4, 1e-3]}}
    with pytest.raises(ConfigError) as error:
        load_sweep(write(tmp_path, tree))
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_shared_budget_comes_from_one_place(tmp_path):
    study = load_sweep(write(tmp_path, BASE)).studies[0]
    assert (study.steps, study.eval_every) == (30, 10)
    assert study.shared["eval.metrics"] == ["modes2d"] and study.shared["data.name"] == "ring8"


def test_a_refused_sweep_file_exits_2_with_one_line(tmp_path, capsys):
    from ganbench.cli import main

    tree = {**BASE, "scientific": [{"loss.name": "hinge", "train.steps": 30}, {"loss.name": "non_saturating"}],
            "reference": [], "nuisance": {"optim.lr_g": {"uniform": [1e-4, 1e-3]}}}
    tree["fixed"] = {k: v for k, v in BASE["fixed"].items() if k != "train.steps"}
    assert main(["sweep", str(write(tmp_path, tree)), "--plan"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganbench: error: train.steps: differs between compared values") and "\n" not in err


def test_an_object_store_needs_an_optuna_rdb(tmp_path, capsys):
    from ganbench.cli import main

    assert main(["sweep", str(write(tmp_path, BASE)), "--storage", "s3://bucket/ganbench"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ganbench: error: tiny: searcher.storage: --storage s3://bucket/ganbench is an object store")
    assert "\n" not in err


def test_the_optuna_storage_option_is_checked_like_the_key(tmp_path, capsys):
    from ganbench.cli import main

    assert main(["sweep", str(write(tmp_path, BASE)), "--optuna-storage", "redis://host/0"]) == 2
    assert "ganbench: error: --optuna-storage: expected an Optuna RDB URL" in capsys.readouterr().err


def test_command_line_overrides_set_fixed_keys_in_every_study(tmp_path):
    tree = {"studies": [{**BASE, "study": "a"}, {**BASE, "study": "b"}]}
    path = write(tmp_path, tree)
    plain, overridden = load_sweep(path), load_sweep(path, overrides=["train.steps=20", "model.g_width=8"])
    assert all(s.fixed["train.steps"] == 20 and s.fixed["model.g_width"] == 8 and s.steps == 20
               for s in overridden.studies)
    assert overridden.sha256 != plain.sha256  # --resume with other overrides is another sweep
    with pytest.raises(ConfigError, match="train.step: unknown config key.*train.steps"):
        load_sweep(path, overrides=["train.step=20"])
    with pytest.raises(ConfigError, match="--set: expected key=value"):
        load_sweep(path, overrides=["=20"])


def test_a_study_without_search_reruns_each_values_fixed_config(tmp_path):
    """A budget may skip the search (picks made elsewhere, or a paper's settings): num_samples 0, nothing tuned."""
    benchmark = {"title": "t", "budgets": {"small": {"num_samples": 2},
                                           "medium": {"num_samples": 0, "nuisance": {}, "seeds": 4,
                                                      "fixed": {"optim.lr_g": 1e-4}}}}
    path = write(tmp_path, {**BASE, "benchmark": benchmark})
    study = load_sweep(path, "medium").studies[0]
    assert (study.num_samples, study.seeds) == (0, 4)
    assert all(not study.space(v) for v in study.values())
    assert study.midpoint_config({"loss.name": "hinge"})["optim.lr_g"] == 1e-4


@pytest.mark.parametrize("name", ["../../../esc", "a/b", ".hidden", "a..b", "has space", "x" * 101, ""])
def test_a_study_name_that_is_not_a_folder_name_is_refused(tmp_path, name):
    with pytest.raises(ConfigError, match=r"^study: .*is not a valid name: use letters, digits"):
        load_sweep(write(tmp_path, {**BASE, "study": name}))


@pytest.mark.parametrize("metric", ["best_reverse_kl", "final_reverse_kl", "final_eval_reverse_kl"])
def test_a_metric_given_with_a_reported_prefix_is_refused(tmp_path, metric):
    with pytest.raises(ConfigError, match=rf"^metric: '{metric}' names a reported key .* give metric: reverse_kl"):
        load_sweep(write(tmp_path, {**BASE, "metric": metric}))


def test_an_invalid_sweep_name_is_refused_before_anything_is_read(tmp_path, capsys):
    from ganbench.cli.main import main

    assert main(["sweep", str(ROOT / "tests" / "sweep" / "files" / "tiny.yaml"), "--name", "../x",
                 "--storage", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("ganbench: error: --name: '../x' is not a valid name")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("block", "change", "message"), [
    ("searcher", {"seed": "one"}, "searcher.seed: expected an integer >= 0, got 'one'"),
    ("searcher", {"name": "optna"}, "searcher.name: invalid value 'optna'; did you mean 'optuna'? available: optuna"),
    ("scheduler", {"reduction_factor": 1}, "scheduler.reduction_factor: expected an integer >= 2, got 1"),
    ("resources", {"cpu": "two"}, "resources.cpu: expected a number, got 'two'"),
    ("resources", {"gpu": -1}, "resources.gpu: must be >= 0.0, got -1.0"),
    ("deterministic", "yes", "deterministic: expected true or false, got 'yes'"),
    ("searcher", ["tpe"], "searcher: expected a mapping with name, sampler, seed, n_startup_trials, storage"),
])
def test_a_blocks_wrong_type_names_the_key(tmp_path, block, change, message):
    value = {**BASE.get(block, {}), **change} if isinstance(change, dict) else change
    for parse in (parse_sweep, load_sweep):
        with pytest.raises(ConfigError) as error:
            parse(write(tmp_path, {**BASE, block: value}))
        assert message in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("block", [StudyKeys, Searcher, Scheduler, Resources])
def test_every_sweep_key_is_documented(block):
    assert all(f.metadata.get("help") for f in block.__dataclass_fields__.values())


def test_the_structural_parse_agrees_with_the_full_one():
    path = ROOT / "search_spaces" / "benchmarks" / "ring8_pacgan.yaml"
    parsed, loaded = parse_sweep(path), load_sweep(path)
    assert parsed.sha256 == loaded.sha256
    assert [{**s.__dict__, "shared": {}} for s in loaded.studies] == [s.__dict__ for s in parsed.studies]
    assert loaded.studies[0].shared["train.steps"] > 0 and not parsed.studies[0].shared


def _imports_after_parse(prelude: str = "") -> set[str]:
    code = (f"import sys\n{prelude}\nfrom ganbench.sweep.spec import parse_sweep\n"
            "parse_sweep('search_spaces/quickstart.yaml')\n"
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


# ganbench.metrics' package __init__ imports its families (and so torch) to register them; the parse needs only
# ganbench.metrics.keys. With the package's registration deferred, the parse imports no torch, no numpy, no Ray.
LAZY_METRICS = ("import types, pathlib, ganbench\n"
                "metrics = types.ModuleType('ganbench.metrics')\n"
                "metrics.__path__ = [str(pathlib.Path(ganbench.__file__).parent / 'metrics')]\n"
                "sys.modules['ganbench.metrics'] = metrics")


def test_parsing_a_sweep_file_imports_no_torch_below_the_metrics_package():
    assert not _imports_after_parse(LAZY_METRICS) & {"torch", "numpy", "ray", "mlflow", "optuna"}


def test_parsing_a_sweep_file_imports_no_torch():
    assert "torch" not in _imports_after_parse()


# Command-line KEY=VALUE overrides: each one changes what runs, or is refused in one line saying why.

RING8 = ROOT / "search_spaces" / "benchmarks" / "ring8_pacgan.yaml"
QUICKSTART = ROOT / "search_spaces" / "quickstart.yaml"


@pytest.mark.parametrize(("overrides", "key"), [
    (["loss.name=least_squares", "model.pack=8"], "loss.name"),  # the compared loss would be shadowed by each value's
    (["model.pack=8"], "model.pack"),
    (["loss.name=hnge"], "loss.name"),
])
def test_an_override_of_a_compared_key_is_refused(overrides, key):
    with pytest.raises(ConfigError) as refused:
        parse_sweep(RING8, overrides=overrides)
    message = str(refused.value)
    assert message.startswith(f"{key}: compared by study ring8_pacgan (`scientific:`)") and "\n" not in message
    assert "cannot fix it" in message and "scientific" in message


def test_an_override_of_a_tuned_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"^optim\.lr_g: tuned by study ring8_losses \(`nuisance:`\).*cannot fix it"):
        parse_sweep(QUICKSTART, overrides=["optim.lr_g=1e-3"])
    # A key tuned for one value only (nuisance.per_value) would be shadowed for that value: refused too.
    with pytest.raises(ConfigError, match=r"^optim\.lr_d: tuned by study tiny \(`nuisance.per_value.hinge:`\)"):
        parse_sweep(write(tmp_path, BASE), overrides=["optim.lr_d=1e-3"])


def test_a_budget_without_search_takes_an_override_of_a_key_other_budgets_tune():
    """ring8_pacgan's medium budget tunes nothing (`nuisance: {}`): there, optim.lr_g is an ordinary fixed key."""
    study = load_sweep(RING8, "medium", overrides=["optim.lr_g=3e-4"]).studies[0]
    assert all(study.midpoint_config(v)["optim.lr_g"] == 3e-4 for v in study.values())
    with pytest.raises(ConfigError, match="optim.lr_g: tuned by study ring8_pacgan"):
        parse_sweep(RING8, "small", overrides=["optim.lr_g=3e-4"])


@pytest.mark.parametrize(("override", "message"), [
    ("optim.lr_g=-5", r"optim\.lr_g: must be > 0\.0, got -5"),  # checked before it is found to be tuned
    ("train.steps=-5", r"train\.steps: must be >= 1, got -5"),
    ("train.steps=many", r"train\.steps: expected an integer, got 'many'"),
    ("model.g_norm=layer", r"model\.g_norm: invalid value 'layer'; available: batch, none"),
])
def test_overrides_are_checked_like_the_files_values(override, message):
    """Type and range at the parse, as the file's own `fixed:` values are when resolved (the same messages)."""
    with pytest.raises(ConfigError, match=f"^{message}"):
        parse_sweep(QUICKSTART, overrides=[override])


def test_an_override_naming_an_unknown_component_is_refused_with_the_choices():
    with pytest.raises(ConfigError, match=r"loss\.penalty: unknown penalty 'gradient_penlty'; did you mean "
                                          r"'gradient_penalty'\?"):
        load_sweep(QUICKSTART, overrides=["loss.penalty=gradient_penlty"])


def test_a_key_overridden_twice_is_refused():
    with pytest.raises(ConfigError, match=r"^train\.steps: given twice on the command line \(500 and 600\); keep one"):
        parse_sweep(QUICKSTART, overrides=["train.steps=500", "train.steps=600"])


def test_a_metric_nothing_computes_says_which_key_to_set(tmp_path):
    """image_folder computes no metric by default: ranking on fid_inception names eval.metrics and the family."""
    tree = {**BASE, "metric": "fid_inception", "reference": [], "nuisance": {},
            "fixed": {"data.name": "image_folder", "data.folder": str(tmp_path), "data.image_size": 32,
                      "train.steps": 10, "eval.every": 5}, "num_samples": 0}
    with pytest.raises(ConfigError) as refused:
        load_sweep(write(tmp_path, tree))
    message = str(refused.value)
    assert message.startswith("metric: 'fid_inception' is not reported for non_saturating")
    assert "available: none" not in message and not message.rstrip().endswith("available:")
    assert "eval.metrics is empty" in message and "eval.metrics: [inception]" in message


def test_a_metric_another_family_reports_names_it(tmp_path):
    tree = {**BASE, "metric": "fid_inception", "reference": [],
            "fixed": {**BASE["fixed"], "eval.metrics": ["modes2d"]}}
    with pytest.raises(ConfigError, match=r"'fid_inception' is not reported for non_saturating; available: .*reverse_kl; "
                                          r"add inception to eval.metrics to report it"):
        load_sweep(write(tmp_path, tree))


@pytest.mark.parametrize(("typed", "suggested"), [
    ("search_spaces/quickstrat.yaml", "search_spaces/quickstart.yaml"),
    ("quickstart", "search_spaces/quickstart.yaml"),
    ("ring8_pacgn", "search_spaces/benchmarks/ring8_pacgan.yaml"),
])
def test_a_sweep_file_not_found_suggests_the_closest(typed, suggested, monkeypatch):
    monkeypatch.chdir(ROOT)
    with pytest.raises(GanbenchError) as refused:
        parse_sweep(typed)
    assert str(refused.value) == f"{typed}: no such sweep file; did you mean {suggested}?"


def test_a_sweep_file_with_nothing_close_says_where_they_are(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(GanbenchError, match=r"^zzzzqqq\.yaml: no such sweep file; the shipped ones are in "):
        parse_sweep("zzzzqqq.yaml")


def test_cpu_kernels_is_one_top_level_choice_for_the_whole_sweep(tmp_path):
    assert parse_sweep(write(tmp_path, BASE)).cpu_kernels == "native"
    assert parse_sweep(write(tmp_path, {**BASE, "cpu_kernels": "portable"})).cpu_kernels == "portable"
    both = parse_sweep(write(tmp_path, {"cpu_kernels": "portable", "studies": [BASE, {**BASE, "study": "other"}]}))
    assert both.cpu_kernels == "portable" and [s.name for s in both.studies] == ["tiny", "other"]


@pytest.mark.parametrize("value", ["portible", "avx2", True])
def test_bad_cpu_kernels_names_the_key_and_its_choices(tmp_path, value, capsys):
    from ganbench.cli.main import main

    assert main(["sweep", str(write(tmp_path, {**BASE, "cpu_kernels": value})), "--plan"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"ganbench: error: cpu_kernels: invalid value {value!r}; ")
    assert "available: native, portable" in err and "\n" not in err
    with pytest.raises(ConfigError, match="studies: expected a non-empty list of studies and nothing beside it"):
        parse_sweep(write(tmp_path, {"cpu_krnels": "portable", "studies": [BASE]}))
