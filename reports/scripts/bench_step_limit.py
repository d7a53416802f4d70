"""Benchmark: ganbench's ring8 training step against the hardware's matmul limit, before and after the fast step,
and a 64-unit step against a minimal hand-written loop (for reports/PERFORMANCE.md).

    python reports/scripts/bench_step_limit.py --repeats 5 --steps 300

All at 1 torch thread, in one process, the variants interleaved repetition by repetition so that load from
other processes hits them alike; medians over the repetitions.

- **limit**: the default ring8 step's own GEMMs (G 4x400 BN+ReLU, D 3x200 maxout of 5 pieces, batch 100, one D
  step per G step, no penalty), each shape timed alone with ``torch.mm`` at its best of many runs, summed as
  often as one step runs them: the D step's forward of G (no grad), D's forward on the real and on the fake
  batch (100 rows each), D's weight gradients and its input gradients (but the first layer's); the G step's
  forward of G and of D, D's input gradients (all layers: they reach G), G's weight gradients and its input
  gradients (but the first layer's).
- **ganbench**: ``train()`` on the default config, timed between ``progress`` calls (every 50 steps), after a
  warm-up, with no evaluation in the timed span.
- **before**: the same, with the step as it was (maxout by ``amax``, Adam's per-parameter loop, two D passes),
  patched in for that run only.
- **64-unit**: G and D 64 units wide; ganbench's step against ``MinimalLoop``, a hand-written loop with its own
  best-practice modules (fused Adam, maxout by ``max``, one D pass over real and fake).
- **compiled**: ``train()`` on the default config with ``train.compile=true`` (G and D through torch.compile), timed
  as ``ganbench``; its compile time is recorded apart (``compile_s``: the time to the first progress call less
  that many steps at the run's own step time), once per repetition (the first compiles cold, later ones may hit
  inductor's cache).

    python reports/scripts/bench_step_limit.py --repeats 5 --steps 300 --only limit,ganbench,compiled \
        --out reports/perf/step_limit_compile.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import mkdtemp

# A fresh inductor cache, so that the first repetition's compile time is a cold compile.
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", mkdtemp(prefix="inductor"))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import Tensor, nn  # noqa: E402

from ganbench.config import Config, resolve  # noqa: E402
from ganbench.gan import optim  # noqa: E402
from ganbench.models import mlp  # noqa: E402
from ganbench.training import loop  # noqa: E402
from ganbench.training.loop import train  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "perf" / "step_limit.json"
BLOCK = 50


def config_of(width: int | None, steps: int, compiled: bool = False) -> Config:
    flat = {"data.name": "ring8", "train.steps": steps, "train.log_every": BLOCK, "train.threads": 1,
            "train.compile": compiled, "eval.every": 10 * steps, "eval.metrics": [], "eval.select": "", "device": "cpu"}
    if width:
        flat |= {"model.g_width": width, "model.d_width": width}
    return resolve(flat)


# ------------------------------------------------------------------------------------------ the limit

def gemm_seconds(m: int, k: int, n: int, runs: int = 200) -> float:
    """Best time of an (m x k) @ (k x n) product at 1 thread."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    out = torch.empty(m, n)
    for _ in range(20):
        torch.mm(a, b, out=out)
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        torch.mm(a, b, out=out)
        best = min(best, time.perf_counter() - started)
    return best


def linear_shapes(module: nn.Module) -> list[tuple[int, int]]:
    return [(layer.in_features, layer.out_features) for layer in module.modules() if isinstance(layer, nn.Linear)]


def step_gemms(config: Config) -> list[tuple[int, int, int]]:
    """(m, k, n) of every GEMM one default training step runs, as often as it runs them."""
    from ganbench.data import DATASETS
    from ganbench.models import build_models

    generator, discriminator = build_models(config, DATASETS.get(config.data.name)(config).spec(config))
    batch, g_layers, d_layers = config.train.batch_size, linear_shapes(generator), linear_shapes(discriminator)

    def forward(layers: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
        return [(batch, i, o) for i, o in layers]

    def weight_grads(layers: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
        return [(o, batch, i) for i, o in layers]

    def input_grads(layers: list[tuple[int, int]], first: bool) -> list[tuple[int, int, int]]:
        return [(batch, o, i) for i, o in (layers if first else layers[1:])]

    d_step = forward(g_layers) + 2 * forward(d_layers) + 2 * (weight_grads(d_layers) + input_grads(d_layers, False))
    g_step = (forward(g_layers) + forward(d_layers) + input_grads(d_layers, True) + weight_grads(g_layers)
              + input_grads(g_layers, False))
    return d_step * config.train.disc_steps + g_step


def matmul_limit(config: Config) -> tuple[float, float]:
    """(seconds, GFLOP) of one step's GEMMs, each at its best."""
    shapes = step_gemms(config)
    cache: dict[tuple[int, int, int], float] = {}
    seconds = sum(cache.setdefault(shape, gemm_seconds(*shape)) for shape in shapes)
    return seconds, sum(2 * m * k * n for m, k, n in shapes) / 1e9


# ------------------------------------------------------------------------------------------ the steps

def ganbench_step(config: Config, warmup: int, compile_seconds: list[float] | None = None) -> float:
    """Seconds per step of ``train()``, between progress calls after ``warmup`` steps; appends the time spent
    before the first progress call beyond that many steps' worth to ``compile_seconds``."""
    marks: list[tuple[int, float]] = []
    started = time.perf_counter()
    result = train(config, progress=lambda step, record: marks.append((step, time.perf_counter())))
    if config.train.compile and not result["compiled"]:
        raise SystemExit("train.compile fell back to eager here: nothing compiled to measure")
    timed = [(s, t) for s, t in marks if s >= warmup]
    per_step = (timed[-1][1] - timed[0][1]) / (timed[-1][0] - timed[0][0])
    if compile_seconds is not None:
        first_step, first_time = marks[0]
        compile_seconds.append(first_time - started - first_step * per_step)
    return per_step


def before_step(config: Config, warmup: int) -> float:
    """The same, with the step as it was before the fast step (patched for this run only)."""
    maxout, adam, alone = mlp.Maxout.forward, optim.torch.optim.Adam, loop.judges_each_sample_alone
    mlp.Maxout.forward = lambda self, x: self.linear(x).unflatten(1, (-1, self.pieces)).amax(dim=2)
    optim.torch.optim.Adam = lambda params, **o: adam(params, **{**o, "fused": None, "foreach": None})
    loop.judges_each_sample_alone = lambda discriminator: False
    try:
        return ganbench_step(config, warmup)
    finally:
        mlp.Maxout.forward, optim.torch.optim.Adam, loop.judges_each_sample_alone = maxout, adam, alone


class Maxout(nn.Module):
    def __init__(self, width_in: int, width: int, pieces: int = 5) -> None:
        super().__init__()
        self.linear, self.pieces = nn.Linear(width_in, width * pieces), pieces

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x).unflatten(1, (-1, self.pieces)).max(dim=2).values


class MinimalLoop:
    """A hand-written non-saturating GAN on ring8 with best-practice modules: G 4 x width BN+ReLU, D 3 x width
    maxout, fused Adam, one D pass over real and fake, batches by a per-epoch randperm."""

    def __init__(self, config: Config) -> None:
        from ganbench.data import DATASETS

        torch.manual_seed(config.seed)
        width, latent = config.model.g_width, config.model.latent_dim
        layers: list[nn.Module] = []
        for width_in in (latent, width, width, width):
            layers += [nn.Linear(width_in, width), nn.BatchNorm1d(width), nn.ReLU()]
        self.generator = nn.Sequential(*layers, nn.Linear(width, 2))
        width_d = config.model.d_width
        self.discriminator = nn.Sequential(Maxout(2, width_d), Maxout(width_d, width_d), Maxout(width_d, width_d),
                                           nn.Linear(width_d, 1))
        betas = (config.optim.beta1, config.optim.beta2)
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.optim.lr_g, betas=betas, fused=True)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.optim.lr_d, betas=betas, fused=True)
        self.data, _ = DATASETS.get(config.data.name)(config).load("train")
        self.batch, self.latent = config.train.batch_size, latent
        self.order, self.position = torch.randperm(len(self.data)), 0

    def step(self) -> None:
        G, D, batch = self.generator, self.discriminator, self.batch  # noqa: N806
        if self.position + batch > len(self.data):
            self.order, self.position = torch.randperm(len(self.data)), 0
        real = self.data[self.order[self.position:self.position + batch]]
        self.position += batch
        with torch.no_grad():
            fake = G(torch.randn(batch, self.latent))
        real_out, fake_out = D(torch.cat([real, fake])).squeeze(1).split(batch)
        d_loss = F.softplus(-real_out).mean() + F.softplus(fake_out).mean()
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        D.requires_grad_(False)
        g_loss = F.softplus(-D(G(torch.randn(batch, self.latent)))).mean()
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.opt_g.step()
        D.requires_grad_(True)


def minimal_step(config: Config, warmup: int) -> float:
    minimal = MinimalLoop(config)
    for _ in range(warmup):
        minimal.step()
    started = time.perf_counter()
    for _ in range(config.train.steps - warmup):
        minimal.step()
    return (time.perf_counter() - started) / (config.train.steps - warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=300, help="timed steps per variant and repetition")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--only", default="", help="comma-separated variants to run (default: all)")
    parser.add_argument("--out", type=Path, default=OUT)
    options = parser.parse_args()
    torch.set_num_threads(1)
    steps = options.warmup + options.steps
    default, narrow = config_of(None, steps), config_of(64, steps)
    variants: dict[str, Callable[[], float]] = {
        "limit": lambda: matmul_limit(default)[0], "ganbench": lambda: ganbench_step(default, options.warmup),
        "before": lambda: before_step(default, options.warmup),
        "ganbench_64": lambda: ganbench_step(narrow, options.warmup),
        "minimal_64": lambda: minimal_step(narrow, options.warmup),
        "before_64": lambda: before_step(narrow, options.warmup),
        "compiled": lambda: ganbench_step(compiled, options.warmup, compile_seconds)}
    compiled, compile_seconds = config_of(None, steps, compiled=True), []
    if options.only:
        variants = {name: variants[name] for name in options.only.split(",")}
    seconds: dict[str, list[float]] = {name: [] for name in variants}
    for repeat in range(options.repeats):
        for name, measure in variants.items():
            seconds[name].append(measure())
        print(f"repeat {repeat + 1}: " + ", ".join(f"{k} {v[-1] * 1e3:.2f} ms" for k, v in seconds.items()), flush=True)
    median = {name: statistics.median(values) for name, values in seconds.items()}
    pairs = [("ganbench", "limit"), ("before", "limit"), ("before", "ganbench"), ("ganbench_64", "minimal_64"),
             ("before_64", "ganbench_64"), ("compiled", "limit"), ("compiled", "ganbench")]
    ratios = {f"{a} / {b}": median[a] / median[b] for a, b in pairs if a in median and b in median}
    per_repeat = {f"{a} / {b}": [x / y for x, y in zip(seconds[a], seconds[b], strict=True)]
                  for a, b in (("ganbench", "limit"), ("ganbench_64", "minimal_64"), ("compiled", "limit"),
                               ("compiled", "ganbench")) if a in seconds and b in seconds}
    gflop = matmul_limit(default)[1]
    command = f"python reports/scripts/bench_step_limit.py --repeats {options.repeats} --steps {options.steps}"
    if options.only:
        command += f" --only {options.only} --out {options.out}"
    result = {"command": command,
              "machine": {"cpu": platform.processor() or platform.machine(), "torch": torch.__version__, "threads": 1},
              "gflop_per_step": gflop, "median_ms": {k: v * 1e3 for k, v in median.items()},
              "ratios_of_medians": ratios, "ratios_per_repeat": per_repeat,
              "seconds": seconds, "compile_s": compile_seconds}
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(json.dumps(result, indent=2))
    print(f"\n{gflop:.2f} GFLOP per default step; medians over {options.repeats} repeats (ms):")
    for name, value in median.items():
        print(f"  {name:<12} {value * 1e3:8.2f}")
    for name, value in ratios.items():
        print(f"  {name:<26} {value:.2f}")
    if compile_seconds:
        print(f"  compile time (s, per repeat): {', '.join(f'{c:.1f}' for c in compile_seconds)}")
    print(f"written to {options.out}")


if __name__ == "__main__":
    main()
