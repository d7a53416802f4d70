"""The report's figures (matplotlib, Agg): a title, labelled axes with units and one legend on every one.

Every figure is at most ~1,350 px wide at ``DPI`` so the report page (1,400 px) shows it unscaled. A value keeps
its colour across figures because colours follow the position of the value in the dict a figure gets: callers
pass the values in the same order every time (empty lists kept).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window; before pyplot loads a backend

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator, NullFormatter  # noqa: E402

from ganbench.metrics.keys import Direction, axis_label  # noqa: E402

DPI = 110
BAND_ORDERINGS = 500
MAX_PARAM_COLUMNS = 3
MAX_SAMPLE_COLUMNS = 4
LOG_RATIO = 20  # max/min beyond which a linear axis squeezes the smaller values into one line
CLIP_FENCE = 3.0  # Tukey's "far out": beyond 3 IQR from the quartiles
IQR_BAND_SEEDS = 5  # below this many seeds the quartiles are no steadier than the extremes

# --- shared look ---------------------------------------------------------------------------------------------

def colours(values: list[str]) -> dict[str, Any]:
    """One colour per value by its position, the same rule in every figure."""
    palette = plt.get_cmap("tab10" if len(values) <= 10 else "tab20")
    return {value: palette(index % palette.N) for index, value in enumerate(values)}


def wrap(text: str, width: int) -> str:
    """Break a long label (``loss.name=hinge, model.pack=1``) into lines; identifiers are never cut."""
    return "\n".join(textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)) or text


def fit(text: str, width_inches: float, fontsize: float) -> str:
    """Wrap a title to the width it has: matplotlib centres a long title and cuts both ends off."""
    average_char = 0.6 * fontsize / 72  # DejaVu Sans averages ~0.6 em per character
    return wrap(text, max(10, int(width_inches / average_char)))


def figure_legend(fig: Any, handles: list[Any], labels: list[str], where: str = "right") -> None:
    """One legend for the whole figure, outside the panels; long value labels wrapped."""
    if not handles:
        return
    if where == "right":
        fig.legend(handles, [wrap(label, 28) for label in labels], loc="outside right upper", fontsize=8,
                   title="compared value", title_fontsize=8)
    else:
        fig.legend(handles, [wrap(label, 40) for label in labels], loc="outside lower center", fontsize=8,
                   ncols=min(3, len(handles)), title="compared value", title_fontsize=8)


def save(fig: Any, path: Path) -> None:
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


# --- heavy tails ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class YScale:
    """How a metric axis shows its values: log, linear, or linear clipped to ``limits`` with points left out."""

    scale: str = "linear"
    limits: tuple[float, float] | None = None
    above: int = 0
    below: int = 0
    extremes: tuple[float, float] = (math.nan, math.nan)  # the lowest and highest value, shown when clipped

    def note(self) -> str:
        parts = [f"{n} point{'s' if n > 1 else ''} {side} ({'max' if side == 'above' else 'min'} {tick_text(x)})"
                 for n, side, x in ((self.above, "above", self.extremes[1]), (self.below, "below", self.extremes[0]))
                 if n]
        return f"clipped: {', '.join(parts)}" if parts else ""


def choose_y_scale(values: Any) -> YScale:
    """Log when all values are positive and span more than ``LOG_RATIO`` (one diverged run's FID of 1,200
    against 20 would flatten every other value); when values can be <= 0, a linear axis clipped to the
    points within Tukey's far-out fences, if the points beyond stretch the axis more than five-fold."""
    finite = np.asarray([v for v in values if v is not None], dtype=float)
    finite = finite[np.isfinite(finite)]
    if len(finite) < 2:
        return YScale()
    if finite.min() > 0:
        return YScale("log") if finite.max() / finite.min() > LOG_RATIO else YScale()
    q1, q3 = np.percentile(finite, [25, 75])
    low, high = q1 - CLIP_FENCE * (q3 - q1), q3 + CLIP_FENCE * (q3 - q1)
    kept = finite[(finite >= low) & (finite <= high)]
    kept_span = np.ptp(kept) if len(kept) else 0.0
    if len(kept) == len(finite) or kept_span == 0 or np.ptp(finite) <= 5 * kept_span:
        return YScale()
    pad = 0.08 * kept_span
    return YScale("linear", (float(kept.min() - pad), float(kept.max() + pad)),
                  above=int((finite > kept.max()).sum()), below=int((finite < kept.min()).sum()),
                  extremes=(float(finite.min()), float(finite.max())))


def apply_y_scale(ax: Any, scale: YScale, label: str) -> None:
    """Set the scale and label of a metric axis, after the data is drawn; a clipped axis says so in its label."""
    ax.set_yscale(scale.scale)
    if scale.scale == "log":  # matplotlib labels only decades: 20..1,500 would read "10^2, 10^3"
        ax.yaxis.set_major_locator(FixedLocator(log_ticks(*ax.get_ylim())))
        ax.yaxis.set_major_formatter(FuncFormatter(tick_text))
        ax.yaxis.set_minor_formatter(NullFormatter())
    if scale.limits is not None:
        ax.set_ylim(*scale.limits)
    # A label longer than its axis is centred and cut at both ends (the search plot's lost its first words): wrap it
    # to the axis' height, as titles are wrapped to their width.
    height = ax.get_position().height * ax.figure.get_figheight()
    label = fit(label, height, plt.rcParams["font.size"])  # axis labels are "medium", the base font size
    ax.set_ylabel(f"{label}\n({scale.note()})" if scale.note() else label)


# --- log parameter axes ----------------------------------------------------------------------------------------

LOG_MANTISSAS = ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9))


def log_ticks(low: float, high: float) -> list[float]:
    """Labelled tick positions for a log axis from low to high, at least two inside: decades when the range
    holds three, else 1-2-5 steps, else finer round mantissas, else three round values in between."""
    decades = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    for mantissas in LOG_MANTISSAS:
        ticks = [m * 10.0 ** d for d in decades for m in mantissas if low <= m * 10.0 ** d <= high]
        if len(ticks) >= 3 or (len(ticks) >= 2 and mantissas is LOG_MANTISSAS[-1]):
            step = math.ceil(len(ticks) / 7)  # seven labels fit a 4-inch panel
            return ticks[::step]
    inside = np.geomspace(low, high, 5)[1:-1]  # not at the edges, where neighbouring panels' labels meet
    for digits in range(2, 7):  # the fewest digits that keep three distinct ticks inside
        ticks = sorted({float(f"{t:.{digits}g}") for t in inside})
        if len(ticks) == 3 and low <= ticks[0] and ticks[-1] <= high:
            return ticks
    return [float(t) for t in inside]


def tick_text(x: float, _position: Any = None) -> str:
    """Short tick text: 0.001 and 50 as they are, 2e-4 rather than 0.0002 or 2e-04."""
    if x == 0 or 1e-3 <= abs(x) < 1e4:
        return f"{x:.6g}"
    mantissa, exponent = f"{x:.5e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def set_log_x(ax: Any, values: list[float]) -> None:
    """A log x axis with labelled ticks even when the values span less than a decade (lr 2e-4..6e-4), where
    matplotlib's default leaves no major tick and so no label."""
    low, high = min(values), max(values)
    if low == high:
        low, high = low / 1.5, high * 1.5
    pad = (math.log10(high) - math.log10(low)) * 0.06
    low, high = low / 10 ** pad, high * 10 ** pad
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.xaxis.set_major_locator(FixedLocator(log_ticks(low, high)))
    ax.xaxis.set_major_formatter(FuncFormatter(tick_text))
    ax.xaxis.set_minor_formatter(NullFormatter())  # the fixed major ticks carry the labels


def is_log_param(param: str, values: list[Any]) -> bool:
    """Learning rates and weights are searched on a log scale, so they are shown on one."""
    scaled = param.startswith("optim.lr") or param.endswith(("penalty_weight", "clip_value"))
    return scaled and bool(values) and all(isinstance(v, float) and v > 0 for v in values)


# --- figures -----------------------------------------------------------------------------------------------------

def best_so_far(series: dict[str, list[tuple[float, float]]], metric: str, mode: Direction | str, random_order: bool,
                path: Path) -> str:
    """Best metric so far against trials and against cumulative generator steps, per compared value.

    ``series[value]`` lists (generator steps used, metric) per search trial in the order they started.
    Returns what the bands mean, for the caption."""
    direction = Direction(mode)

    def pick(values: Any) -> Any:
        return np.array(direction.running_best(values))

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), layout="constrained", sharey=True)
    rng = np.random.default_rng(0)
    colour, handles, labels, plotted = colours(list(series)), [], [], []
    for value, trials in series.items():
        if not trials:
            continue
        steps, metrics = np.array([t[0] for t in trials]), np.array([t[1] for t in trials])
        trial_numbers, best = np.arange(1, len(metrics) + 1), pick(metrics)
        line = axes[0].plot(trial_numbers, best, marker="o", markersize=4, color=colour[value])[0]
        axes[1].plot(np.cumsum(steps), best, marker="o", markersize=4, color=colour[value])
        handles.append(line)
        labels.append(value)
        plotted += list(best)
        if random_order and len(metrics) > 2:
            orders = [rng.permutation(len(metrics)) for _ in range(BAND_ORDERINGS)]
            curves = np.array([pick(metrics[o]) for o in orders])
            low, high = np.percentile(curves, [10, 90], axis=0)
            axes[0].fill_between(trial_numbers, low, high, color=colour[value], alpha=0.15, linewidth=0)
            plotted += list(low) + list(high)

    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    apply_y_scale(axes[0], choose_y_scale(plotted), f"best so far: {axis_label(metric)}")
    axes[0].set(title="by search trial", xlabel="search trials started")
    axes[1].set(title="by training budget", xlabel="cumulative generator steps")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(fit(f"Best {axis_label(metric)} so far during the search ({direction.word} is better)", 10, 12),
                 fontsize=12)
    figure_legend(fig, handles, labels)
    save(fig, path)
    if random_order:
        return "Bands: 10th-90th percentile over 500 random orderings of the same trials (random search)."
    return "No bands: the sampler is sequential (TPE/QMC), so the trials' order is part of the method."


def final_distribution(groups: dict[str, list[float]], metric: str, path: Path) -> None:
    """Each value's final-stage seeds: a box (median, quartiles) and one dot per seed in the value's colour."""
    names = list(groups)
    width = min(12.5, max(6.0, 1.9 * len(names) + 1.5))
    fig, ax = plt.subplots(figsize=(width, 4.8), layout="constrained")
    colour = colours(names)
    filled = [i for i, v in enumerate(names, start=1) if groups[v]]
    if filled:
        boxes = ax.boxplot([groups[names[i - 1]] for i in filled], positions=filled, showfliers=False,
                           patch_artist=True, widths=0.5, medianprops={"color": "black"})
        for box, i in zip(boxes["boxes"], filled, strict=True):
            box.set(facecolor=colour[names[i - 1]], alpha=0.25)
    for i, value in enumerate(names, start=1):
        if not groups[value]:
            ax.text(i, 0.5, "no final runs", transform=ax.get_xaxis_transform(), ha="center", fontsize=8)
            continue
        jitter = np.random.default_rng(i).uniform(-0.12, 0.12, len(groups[value]))
        ax.scatter(i + jitter, groups[value], s=22, zorder=3, color=colour[value], edgecolor="white",
                   linewidth=0.5)
    per_label = max(10, int(width / max(1, len(names)) / (0.8 * 9 / 72)) - 2)
    ax.set_xticks(range(1, len(names) + 1), [wrap(v, per_label) for v in names], fontsize=9)
    ax.set_xlim(0.4, len(names) + 0.6)
    apply_y_scale(ax, choose_y_scale([x for v in names for x in groups[v]]), axis_label(metric))
    if not filled:
        ax.set_yticks([])  # 0-1 would pass for a scale
    ax.set_xlabel(fit("compared value (dots: one final-stage seed each; box: median and quartiles; whiskers: "
                      "furthest seed within 1.5 IQR)", width, 9), fontsize=9)
    ax.set_title(fit(f"Final {axis_label(metric)} of each value's final-stage seeds", width, 12), fontsize=12)
    ax.grid(alpha=0.3, axis="y")
    save(fig, path)


def scatter_param(ax: Any, points: dict[str, list[tuple[dict[str, float | str], float]]], param: str,
                  colour: dict[str, Any]) -> dict[str, Any]:
    """One panel: each value's trials against ``param``; a choice parameter (text values) gets a categorical
    axis with the dots spread sideways so equal choices stay visible. Returns a legend handle per value."""
    xs = [p[param] for rows in points.values() for p, _ in rows if param in p]
    numeric = all(isinstance(x, float) for x in xs)
    categories = sorted({str(x) for x in xs}) if not numeric else []
    rng, handles = np.random.default_rng(0), {}
    for value, rows in points.items():
        mine = [(p[param], m) for p, m in rows if param in p]
        if not mine:
            continue
        positions = [x for x, _ in mine] if numeric else \
            [categories.index(str(x)) + rng.uniform(-0.15, 0.15) for x, _ in mine]
        handles[value] = ax.scatter(positions, [m for _, m in mine], s=18, color=colour[value], alpha=0.85)
    if not xs:
        ax.text(0.5, 0.5, "no value tuned it", ha="center", va="center", transform=ax.transAxes, fontsize=9)
        ax.set_xticks([])
    elif categories:
        ax.set_xticks(range(len(categories)), categories, fontsize=8)
        ax.set_xlim(-0.6, len(categories) - 0.4)
    elif is_log_param(param, xs):
        set_log_x(ax, xs)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=all(float(x).is_integer() for x in xs)))
        ax.xaxis.set_major_formatter(FuncFormatter(tick_text))
    ax.set_xlabel(param + (" (log scale)" if ax.get_xscale() == "log" else ""), fontsize=9)
    ax.tick_params(labelsize=8)
    ax.grid(alpha=0.3)
    return handles


def metric_vs_params(points: dict[str, list[tuple[dict[str, float | str], float]]], params: list[str], metric: str,
                     path: Path) -> None:
    """One panel per tuned parameter, at most three to a row, sharing the metric axis; one legend below."""
    panels = params or ["(none tuned)"]
    columns = min(MAX_PARAM_COLUMNS, len(panels))
    rows = math.ceil(len(panels) / columns)
    width = 4.0 * columns + 0.4
    fig, axes = plt.subplots(rows, columns, figsize=(width, 3.0 * rows + 1.5), squeeze=False, sharey=True,
                             layout="constrained")
    colour, handles = colours(list(points)), {}
    for ax, param in zip(axes.flat, panels, strict=False):
        handles |= scatter_param(ax, points, param, colour)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    scale = choose_y_scale([m for rows_ in points.values() for _, m in rows_])
    for row in axes:
        apply_y_scale(row[0], scale, axis_label(metric))
    if not handles:
        axes[0][0].set_yticks([])  # 0-1 would pass for a scale
    fig.suptitle(fit(f"Search trials: {axis_label(metric)} against each tuned parameter", width, 12),
                 fontsize=12)
    ordered = [v for v in points if v in handles]
    figure_legend(fig, [handles[v] for v in ordered], ordered, where="below")
    save(fig, path)


@dataclass(frozen=True)
class SeedSummary:
    """One value's seeds at each step: the median and the band around it."""

    steps: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray


def band_kind(seed_counts: list[int]) -> str:
    """``iqr`` when every value has enough seeds for quartiles to mean something, else ``min-max``."""
    return "iqr" if seed_counts and min(seed_counts) >= IQR_BAND_SEEDS else "min-max"


def summarise_seeds(seed_curves: list[list[tuple[int, float]]], band: str) -> SeedSummary:
    """Median across seeds at each step, over the seeds that logged that step (a diverged seed stops early),
    with a min-max or interquartile band; non-finite values are left out."""
    by_step: dict[int, list[float]] = {}
    for seed in seed_curves:
        for step, value in seed:
            if math.isfinite(value):
                by_step.setdefault(int(step), []).append(float(value))
    steps = sorted(by_step)
    quantiles = (0, 100) if band == "min-max" else (25, 75)
    low, high = (np.array([np.percentile(by_step[s], q) for s in steps]) for q in quantiles)
    return SeedSummary(np.array(steps), np.array([np.median(by_step[s]) for s in steps]), low, high)


def band_caption(seed_counts: list[int], band: str) -> str:
    if not seed_counts:
        return "No value has a logged training curve."
    least, most = min(seed_counts), max(seed_counts)
    if most == 1:
        return "Lines: each value's one final seed; no bands."
    count = f"{least}" if least == most else f"{least}-{most}"
    spread = "interquartile range (25th-75th percentile)" if band == "iqr" else "min-max"
    return f"Lines: median over the {count} final seeds at each step; bands: {spread}."


def training_curves(curves: dict[str, list[list[tuple[int, float]]]], metric: str, path: Path) -> str:
    """Each value's final seeds during training: the median at each step and a band, one colour per value.

    ``curves[value]`` holds one curve per final seed, each a list of (generator step, metric). Returns a
    one-line caption saying what the lines and bands are."""
    seed_counts = [len([c for c in seeds if c]) for seeds in curves.values() if any(seeds)]
    band = band_kind(seed_counts)
    caption = band_caption(seed_counts, band)
    fig, ax = plt.subplots(figsize=(11, 4.6), layout="constrained")
    colour, handles, labels, plotted = colours(list(curves)), [], [], []
    for value, seeds in curves.items():
        summary = summarise_seeds(seeds, band)
        if not len(summary.steps):
            continue
        handles.append(ax.plot(summary.steps, summary.median, color=colour[value], linewidth=1.8)[0])
        labels.append(value)
        ax.fill_between(summary.steps, summary.low, summary.high, color=colour[value], alpha=0.18, linewidth=0)
        plotted += [v for seed in seeds for _, v in seed]
    if not handles:
        ax.text(0.5, 0.5, "no curve logged", ha="center", va="center", transform=ax.transAxes)
    apply_y_scale(ax, choose_y_scale(plotted), axis_label(metric))
    if not handles:
        ax.set(xticks=[], yticks=[])  # 0-1 would pass for a scale
    ax.set_xlabel("generator step")
    title = f"{axis_label(metric)} during training, all final seeds of each value"
    ax.set_title(f"{fit(title, 8.5, 11)}\n{fit(caption, 8.5, 10)}", fontsize=10)
    ax.grid(alpha=0.3)
    figure_legend(fig, handles, labels)
    save(fig, path)
    return caption


def ink_bands(image: np.ndarray) -> list[tuple[int, int]]:
    """(first row, height) of each run of rows with dark pixels in the middle half of the columns: the title is
    centred, while a 2-D plot's top tick label, at the left edge, reaches up to the title's rows."""
    width = image.shape[1]
    middle = image[:, width // 4: width - width // 4, :3].astype(float)
    inked = (middle / (255.0 if image.dtype == np.uint8 else 1.0) < 0.5).all(axis=2).any(axis=1)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], inked.astype(int), [0]])))
    return [(int(start), int(end - start)) for start, end in zip(edges[::2], edges[1::2], strict=True)]


def without_baked_title(image: np.ndarray) -> np.ndarray:
    """The image without the title line a trial draws above its samples (``value, best (step N)``), which is
    cut off at 400 px for long values; an image with no such line comes back whole.

    The title is the first band of dark rows when it is one line of text high (under 6% of the image) and unlike
    the band that follows (a 2-D plot's frame line, or a row of sample tiles); a first row of tiles (~8%, with
    white padding under it) is as high as the next row, so it stays."""
    bands = ink_bands(image)
    if len(bands) < 2:
        return image
    (start, height), (_, next_height) = bands[0], bands[1]
    if height > 0.06 * len(image) or 0.7 <= height / next_height <= 1.4:
        return image
    return image[start + height + 1:]  # right under the text: a 2-D plot's top tick label reaches into the gap


def sample_grids(images: dict[str, Path], path: Path, what: str = "median final seed",
                 weights: str = "its best checkpoint") -> None:
    """Each value's sample image, at most four to a row, under one title per panel: the value, wrapped (the
    title the trial drew into the image is cropped off, see ``without_baked_title``). ``weights`` says which
    generator drew them ("its final generator" where nothing selected a checkpoint)."""
    count = max(1, len(images))
    columns = min(MAX_SAMPLE_COLUMNS, count)
    rows = math.ceil(count / columns)
    width = 3.1 * columns
    fig, axes = plt.subplots(rows, columns, figsize=(width, 3.4 * rows + 0.5), squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, (value, image) in zip(axes.flat, images.items(), strict=False):
        ax.imshow(without_baked_title(plt.imread(image)))
        ax.set_title(fit(value, 3.0, 9), fontsize=9)
    if not images:
        axes[0][0].text(0.5, 0.5, "no run logged a sample grid", ha="center", va="center")
    whose = what if "value" in what else f"each value's {what}"  # "median final seed" or a whole phrase
    fig.suptitle(fit(f"Samples from {whose} ({weights})", width, 12), fontsize=12)
    save(fig, path)
