"""The report's figures (matplotlib, Agg): titles, labelled axes and legends on every one."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a window; before pyplot loads a backend

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np
from matplotlib.ticker import MaxNLocator, NullFormatter  # noqa: E402

BAND_ORDERINGS = 500


def best_so_far(series: dict[str, list[tuple[float, float]]], metric: str, mode: str, random_order: bool,
                path: Path) -> str:
    """Best metric so far against trials and against cumulative generator steps, per compared value.

    ``series[value]`` lists (generator steps used, metric) per search trial in the order they started.
    Returns what the bands mean, for the caption."""
    pick = np.minimum.accumulate if mode == "min" else np.maximum.accumulate
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    rng = np.random.default_rng(0)
    for value, trials in series.items():
        if not trials:
            continue
        steps, metrics = np.array([t[0] for t in trials]), np.array([t[1] for t in trials])
        line = axes[0].plot(np.arange(1, len(metrics) + 1), pick(metrics), marker="o", label=value)[0]
        axes[1].plot(np.cumsum(steps), pick(metrics), marker="o", color=line.get_color(), label=value)
        if random_order and len(metrics) > 2:
            orders = [rng.permutation(len(metrics)) for _ in range(BAND_ORDERINGS)]
            curves = np.array([pick(metrics[o]) for o in orders])
            low, high = np.percentile(curves, [10, 90], axis=0)
            axes[0].fill_between(np.arange(1, len(metrics) + 1), low, high, color=line.get_color(), alpha=0.15)

    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    values = [m for trials in series.values() for _, m in trials if m > 0]
    if values and max(values) / min(values) > 20:  # one broken value (BEGAN's FID 1200) would flatten the rest
        for ax in axes:
            ax.set_yscale("log")
    axes[0].set(title=f"Best {metric} so far, by trial", xlabel="search trials", ylabel=f"best {metric}")
    axes[1].set(title=f"Best {metric} so far, by budget", xlabel="cumulative generator steps", ylabel=f"best {metric}")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    if random_order:
        return "Bands: 10th-90th percentile over 500 random orderings of the same trials (random search)."
    return "No bands: the sampler is sequential (TPE/QMC), so the trials' order is part of the method."


def final_distribution(groups: dict[str, list[float]], metric: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * len(groups)), 4))
    names = list(groups)
    ax.boxplot([groups[v] or [np.nan] for v in names], showfliers=False)
    ax.set_xticks(range(1, len(names) + 1), names, rotation=20)
    for i, v in enumerate(names, start=1):
        jitter = np.random.default_rng(i).uniform(-0.12, 0.12, len(groups[v]))
        ax.scatter(np.full(len(groups[v]), i) + jitter, groups[v], s=18, zorder=3, label="seeds" if i == 1 else None)
    ax.set(title=f"Final {metric} per compared value (final-stage seeds)", xlabel="compared value", ylabel=metric)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def metric_vs_params(points: dict[str, list[tuple[dict[str, float | str], float]]], params: list[str], metric: str,
                     path: Path) -> None:
    """One panel per tuned parameter; a choice parameter (text values) gets a categorical axis."""
    columns = max(1, len(params))
    fig, axes = plt.subplots(1, columns, figsize=(4 * columns, 3.6), squeeze=False)
    for ax, param in zip(axes[0], params or ["(none tuned)"], strict=False):
        for value, rows in points.items():
            xs = [(p[param], m) for p, m in rows if param in p]
            if xs:
                ax.scatter([x for x, _ in xs], [m for _, m in xs], s=18, label=value)
        numeric = all(isinstance(p[param], float) for rows in points.values() for p, _ in rows if param in p)
        if numeric and (param.startswith("optim.lr") or param.endswith(("penalty_weight", "clip_value"))):

            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide on narrow ranges
        ax.set(title=f"{metric} vs {param}", xlabel=param, ylabel=metric)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def training_curves(curves: dict[str, list[tuple[int, float]]], metric: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4))
    for value, points in curves.items():
        if points:
            ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", label=value)
    ax.set(title=f"{metric} during training: each value's best final run", xlabel="generator step", ylabel=metric)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def sample_grids(images: dict[str, Path], path: Path) -> None:
    fig, axes = plt.subplots(1, max(1, len(images)), figsize=(3.2 * max(1, len(images)), 3.4), squeeze=False)
    for ax, (value, image) in zip(axes[0], images.items(), strict=False):
        ax.imshow(plt.imread(image))
        ax.set_title(value, fontsize=9)
        ax.axis("off")
    if not images:
        axes[0][0].text(0.5, 0.5, "no run logged a sample grid", ha="center", va="center")
        axes[0][0].axis("off")
    fig.suptitle("Samples of each value's best run")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
