"""The report's figures: what a reader sees (ticks, legends, scales, widths, titles), checked on the drawn figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image

from ganbench.report import plots

LONG = ["loss.name=hinge, model.pack=1", "loss.name=non_saturating, model.pack=2",
        "loss.name=wasserstein, loss.penalty=gradient_penalty, model.pack=1", "loss.name=began, model.pack=4"]
PARAMS = ["optim.lr_g", "optim.lr_d", "optim.beta1", "optim.beta2", "train.disc_steps", "loss.penalty_weight",
          "model.d_norm", "loss.clip_value"]


def test_the_figures_are_drawn_on_config_keys_that_exist():
    from ganbench.config import FIELDS

    named = [item.split("=")[0] for label in LONG for item in label.split(", ")]
    assert [key for key in PARAMS + named if key not in FIELDS] == []


def test_metric_vs_params_draws_choice_parameters_on_a_categorical_axis(figures, tmp_path):
    points = {"hinge": [({"model.d_norm": "batch", "optim.lr_g": 1e-3}, 40.0),
                        ({"model.d_norm": "none", "optim.lr_g": 1e-4}, 55.0)],
              "wgan_gp": [({"optim.lr_g": 3e-4}, 21.0)]}
    plots.metric_vs_params(points, ["model.d_norm", "optim.lr_g"], "fid", tmp_path / "params.png")
    choice, number = (ax for ax in figures[0].axes if ax.get_visible())
    assert {t.get_text() for t in choice.get_xticklabels()} == {"batch", "none"}
    assert number.get_xscale() == "log"


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions draw, kept open for inspection (they still write their PNG)."""
    drawn = []

    def keep(fig, path):
        fig.savefig(path, dpi=plots.DPI)
        drawn.append(fig)

    monkeypatch.setattr(plots, "save", keep)
    yield drawn
    for fig in drawn:
        plt.close(fig)


def labelled_ticks(axis) -> list[str]:
    """The tick labels a reader sees on an axis: non-empty, at a tick inside the view."""
    axis.figure.canvas.draw()
    low, high = sorted(axis.get_view_interval())
    inside = [low <= tick <= high for tick in axis.get_majorticklocs()]
    return [label.get_text() for label, shown in zip(axis.get_majorticklabels(), inside, strict=True)
            if shown and label.get_text()]


def search_points(rng: np.random.Generator) -> dict:
    points = {}
    for index, value in enumerate(LONG):
        rows = []
        for _ in range(6):
            params = {"optim.lr_g": float(rng.uniform(2e-4, 6e-4)), "optim.lr_d": float(10 ** rng.uniform(-5, -3)),
                      "optim.beta1": float(rng.uniform(0, 0.9)), "optim.beta2": float(rng.uniform(0.9, 0.999)),
                      "train.disc_steps": float(rng.integers(1, 6)), "model.d_norm": str(rng.choice(["batch", "none"])),
                      "penalty.penalty_weight": float(10 ** rng.uniform(0, 1.5))}
            rows.append((params, 20.0 + 5 * index + float(rng.uniform(0, 10))))
        points[value] = rows
    return points


@pytest.mark.parametrize(("metric", "label"), [
    ("reverse_kl", "reverse KL (nats)"),
    ("modes", "modes captured"),
    ("hq_fraction", "high-quality samples (fraction)"),
    ("fid_lenet_digits", "FID in lenet_digits features"),
    ("kid_inception", "KID in inception features"),
    ("kid_std_inception", "KID std. dev. in inception features"),
    ("is_lenet_digits", "Inception Score in lenet_digits"),
    ("precision_lenet_digits", "precision in lenet_digits features (fraction)"),
    ("coverage_inception", "coverage in inception features (fraction)"),
    ("best_fid_lenet_digits", "best FID in lenet_digits features"),
    ("best_reverse_kl", "best reverse KL (nats)"),
    ("something_new", "something_new"),
])
def test_axis_label_names_the_unit_and_feature_space(metric, label):
    assert plots.axis_label(metric) == label


@pytest.mark.parametrize(("low", "high"), [(2e-4, 6e-4), (2.1e-4, 2.6e-4), (1.11e-3, 2.96e-3), (1.01e-3, 1.09e-3),
                                           (1.0001, 1.0002), (1e-5, 1e-3), (1.5, 30.0), (1e-7, 1e2)])
def test_log_ticks_put_at_least_two_ticks_inside_any_range(low, high):
    ticks = plots.log_ticks(low, high)
    assert len(ticks) >= 2
    assert all(low <= t <= high for t in ticks)
    assert len(ticks) <= 7
    assert len({plots.tick_text(t) for t in ticks}) == len(ticks)  # no two labels read the same


def test_a_narrow_log_range_keeps_labelled_ticks(figures, tmp_path):
    points = {"hinge": [({"optim.lr_g": lr}, 30.0 + i) for i, lr in enumerate([2e-4, 3.1e-4, 4.4e-4, 6e-4])]}
    plots.metric_vs_params(points, ["optim.lr_g"], "fid_lenet_digits", tmp_path / "params.png")
    ax = figures[0].axes[0]
    assert ax.get_xscale() == "log"
    assert len(labelled_ticks(ax.xaxis)) >= 2


def test_eight_parameters_wrap_into_three_columns_within_the_page(figures, tmp_path):
    path = tmp_path / "params.png"
    plots.metric_vs_params(search_points(np.random.default_rng(0)), PARAMS, "fid_lenet_digits", path)
    visible = [ax for ax in figures[0].axes if ax.get_visible()]
    columns = {ax.get_subplotspec().colspan.start for ax in visible}
    assert len(visible) == len(PARAMS)
    assert len(columns) <= 3
    assert Image.open(path).size[0] <= 1400


def test_parameter_figure_has_one_legend_for_all_panels(figures, tmp_path):
    plots.metric_vs_params(search_points(np.random.default_rng(1)), PARAMS[:4], "fid_lenet_digits",
                           tmp_path / "params.png")
    fig = figures[0]
    assert len(fig.legends) == 1
    assert all(ax.get_legend() is None for ax in fig.axes)
    assert len(fig.legends[0].get_texts()) == len(LONG)


def test_heavy_tail_of_positive_values_gets_a_log_axis():
    assert plots.choose_y_scale([18.0, 20.0, 22.0, 25.0, 1230.0]).scale == "log"
    assert plots.choose_y_scale([18.0, 20.0, 22.0, 25.0, 30.0]) == plots.YScale()


def test_heavy_tail_with_negative_values_is_clipped_and_says_so():
    scale = plots.choose_y_scale([-1.2, -1.0, -0.9, -0.8, -0.5, -0.3, 40.0])
    assert scale.scale == "linear"
    assert scale.limits is not None and scale.limits[1] < 40.0
    assert scale.above == 1 and scale.below == 0
    assert scale.note() == "clipped: 1 point above (max 40)"
    assert plots.choose_y_scale([-1.2, -1.0, -0.9, -0.8, -0.5, -0.3, 0.1]).limits is None


def test_final_distribution_uses_the_shared_scale_and_value_colours(figures, tmp_path):
    groups = {LONG[0]: [19.0, 20.0, 21.0], LONG[1]: [24.0, 25.0, 26.0], LONG[3]: [1200.0, 1230.0, 1260.0]}
    plots.final_distribution(groups, "fid_lenet_digits", tmp_path / "final.png")
    ax = figures[0].axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_legend() is None  # the tick labels name the values; a "seeds" entry would show one colour
    dots = [c for c in ax.collections if len(c.get_offsets()) == 3]
    expected = plots.colours(list(groups))
    assert [tuple(d.get_facecolor()[0]) for d in dots] == [tuple(expected[v]) for v in groups]


def test_final_distribution_clipped_axis_says_how_many_points_it_hides(figures, tmp_path):
    groups = {"a": [-1.2, -1.0, -0.9], "b": [-0.5, -0.3, 40.0]}
    plots.final_distribution(groups, "kl_delta", tmp_path / "final.png")
    assert "clipped: 1 point above" in figures[0].axes[0].get_ylabel()


def title_inside_figure(fig, text) -> bool:
    fig.canvas.draw()
    box, frame = text.get_window_extent(), fig.bbox
    return box.x0 >= frame.x0 and box.x1 <= frame.x1


@pytest.mark.parametrize("count", [1, 2, 4])
def test_titles_fit_their_figure(figures, tmp_path, count):
    values = LONG[:count]
    plots.final_distribution({v: [20.0, 21.0, 22.0] for v in values}, "precision_lenet_digits", tmp_path / "f.png")
    plots.training_curves({v: [[(0, 30.0), (100, 20.0)]] for v in values}, "best_fid_lenet_digits",
                          tmp_path / "c.png")
    plots.best_so_far({v: [(100.0, 30.0), (100.0, 20.0)] for v in values}, "fid_lenet_digits", "min", False,
                      tmp_path / "b.png")
    titles = [figures[0].axes[0].title, figures[1].axes[0].title, figures[2]._suptitle]
    assert all(t.get_text() for t in titles)
    assert all(title_inside_figure(fig, t) for fig, t in zip(figures, titles, strict=True))


def test_seed_summary_is_the_median_and_range_at_each_step():
    seeds = [[(0, 10.0), (100, 5.0), (200, 3.0)], [(0, 12.0), (100, 7.0), (200, 2.0)],
             [(0, 20.0), (100, 19.0)]]  # the third seed stopped early (diverged); medians are not means
    summary = plots.summarise_seeds(seeds, "min-max")
    assert summary.steps.tolist() == [0, 100, 200]
    assert summary.median.tolist() == [np.median([10, 12, 20]), np.median([5, 7, 19]), np.median([3, 2])]
    assert summary.low.tolist() == [10.0, 5.0, 2.0]
    assert summary.high.tolist() == [20.0, 19.0, 3.0]
    quartiles = plots.summarise_seeds(seeds, "iqr")
    assert quartiles.low[1] == pytest.approx(np.percentile([5, 7, 19], 25))


def test_training_curves_draw_the_median_of_every_seed_and_say_so(figures, tmp_path):
    rng = np.random.default_rng(0)
    curves = {v: [[(step, float(rng.uniform(10, 50))) for step in range(0, 501, 100)] for _ in range(5)]
              for v in LONG[:2]}
    caption = plots.training_curves(curves, "fid_lenet_digits", tmp_path / "curves.png")
    lines = figures[0].axes[0].get_lines()
    assert len(lines) == 2
    for line, seeds in zip(lines, curves.values(), strict=True):
        expected = np.median([[v for _, v in seed] for seed in seeds], axis=0)
        assert line.get_ydata() == pytest.approx(expected)
    assert caption == "Lines: median over the 5 final seeds at each step; bands: interquartile range (25th-75th " \
                      "percentile)."
    assert plots.band_caption([3, 3], plots.band_kind([3, 3])) == \
        "Lines: median over the 3 final seeds at each step; bands: min-max."


def sample_image(title: str) -> np.ndarray:
    from ganbench.training.plots import samples_image
    torch = pytest.importorskip("torch")

    digits = -torch.ones(100, 1, 28, 28)
    digits[:, :, 8:20, 12:16] = 1
    return samples_image(digits, type("Digits", (), {"name": "mnist"})(), title=title)


def test_sample_panels_have_one_title_each(figures, tmp_path):
    titled = sample_image(f"{LONG[2]}, best (step 2000)")
    cropped = plots.without_baked_title(titled)
    assert cropped.shape[0] < titled.shape[0] - 10
    assert (cropped[:3] > 200).all()  # cut in the white gap under the title, not into the samples
    untitled = sample_image(" ")
    assert plots.without_baked_title(untitled).shape == untitled.shape

    Image.fromarray(titled).save(tmp_path / "a.png")
    plots.sample_grids({LONG[2]: tmp_path / "a.png"}, tmp_path / "samples.png")
    panel = figures[0].axes[0]
    assert panel.get_title() == plots.fit(LONG[2], 3.0, 9)
    assert panel.get_images()[0].get_array().shape[0] == cropped.shape[0]
    assert " ".join(figures[0]._suptitle.get_text().split()).startswith("Samples from each value's median final seed")
    plots.sample_grids({}, tmp_path / "none.png", what="each value's best final seed", weights="its final generator")
    title = " ".join(figures[1]._suptitle.get_text().split())
    assert title == "Samples from each value's best final seed (its final generator)"


def test_a_long_metric_label_fits_its_axis(figures, tmp_path):
    """grid25's search plot cut "best so far: high-quality samples, each mode up to 1/K (fraction)" at both ends."""
    plots.best_so_far({"hinge": [(100.0, 0.02), (100.0, 0.05)]}, "balanced_hq_fraction", "max", False,
                      tmp_path / "b.png")
    fig = figures[0]
    fig.canvas.draw()
    box, frame = fig.axes[0].yaxis.label.get_window_extent(), fig.bbox
    assert box.y0 >= frame.y0 and box.y1 <= frame.y1, (box, frame)
