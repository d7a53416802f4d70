"""The GAN trainable: ``train(config, report, resume=None) -> result``.

A plain function with no Ray or MLflow in it. ``report(metrics, state)`` is called at every
evaluation with the metrics and the state to checkpoint (plain data, valid during the call only:
save it or copy it). Ray's adapter turns that into ``tune.report``; tests collect it in a list.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from threadpoolctl import threadpool_limits
from torch import Tensor, nn

from ganbench.config import Config
from ganbench.data import DATASETS, Dataset, DataSpec, ShuffledBatches
from ganbench.gan.constraints import CONSTRAINTS, Constraint
from ganbench.gan.losses import Loss, build_loss
from ganbench.gan.optim import GeneratorEMA, build_optimizers, load_optimizer_state
from ganbench.gan.penalties import PENALTIES, Penalty
from ganbench.metrics import METRICS, direction_of
from ganbench.metrics.evaluator import Evaluator
from ganbench.models import Conditioning, build_models
from ganbench.models.base import judges_each_sample_alone, sample_latent
from ganbench.training import checkpoint
from ganbench.training.batch_norm import reestimate_batch_norm
from ganbench.training.compile import compile_models
from ganbench.training.steps import Players, StepInputs, alternating_step, generator_slots, simultaneous_step

Report = Callable[[dict[str, float], dict[str, Any]], None]
Progress = Callable[[int, dict[str, float]], None]

EMA_PREFIX = "ema_"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def set_threads(threads: int) -> int:
    """Pin torch's CPU threads (bitwise determinism holds only at a fixed count), and numpy's BLAS with them
    (metrics run np.cov and friends); returns the count."""
    if threads > 0:
        torch.set_num_threads(threads)

        threadpool_limits(threads)
    return torch.get_num_threads()


@dataclass
class Components:
    """Everything a run is built from, before any training state exists."""

    dataset: Dataset
    spec: DataSpec
    generator: nn.Module
    discriminator: nn.Module
    loss: Loss
    penalty: Penalty
    constraint: Constraint


def build(config: Config, device: torch.device) -> Components:
    """Seed, then build data, G, D and the loss pieces in a fixed order (so weights are reproducible)."""
    torch.manual_seed(config.seed)
    dataset = DATASETS.get(config.data.name)(config)
    spec = dataset.spec(config)
    generator, discriminator = build_models(config, spec)
    return Components(dataset, spec, generator.to(device), discriminator.to(device), build_loss(config.loss),
                      PENALTIES.get(config.loss.penalty)(), CONSTRAINTS.get(config.loss.constraint)(config.loss))


def metric_keys(config: Config) -> set[str]:
    """Every evaluation metric a run of this config reports, with its ``best_`` twin."""
    keys = {key for name in config.eval.metrics for key in METRICS.get(name).reported_keys(config)}
    if config.optim.ema > 0:
        keys |= {EMA_PREFIX + key for key in keys}
    return keys | {f"best_{key}" for key in keys}


def samples_per_step(config: Config) -> int:
    """Real (and fake) samples a step draws: batch_size, or batch_size x pack under PacGAN's packing, where D makes
    batch_size decisions of pack samples each."""
    return config.train.batch_size * (config.model.pack if config.model.pack_mode == "pacgan" else 1)


# Re-estimation noise comes from its own stream, so that evaluations leave training's random numbers alone.
REESTIMATE_SEED_OFFSET = 5_555_555


def frozen_latent(config: Config, samples: int, step: int, conditioning: Conditioning,
                  device: torch.device) -> Callable[[], tuple[Tensor, Tensor | None]]:
    """Batches of ``samples`` noise vectors (and balanced labels) for re-estimating batch norms at ``step``."""
    noise = torch.Generator().manual_seed(config.seed + REESTIMATE_SEED_OFFSET + step)
    return lambda: (sample_latent(samples, config.model, device, noise), conditioning.evaluation(samples))


def grad_norm(module: nn.Module) -> float:
    norms = [p.grad.detach().norm() for p in module.parameters() if p.grad is not None]
    return float(torch.linalg.vector_norm(torch.stack(norms))) if norms else 0.0


class LossWindow:
    """Sums losses as tensors between records, so that the hot loop never syncs with the device; a loss's
    diagnostics (plain floats, added once per D step) are averaged over their own count."""

    def __init__(self) -> None:
        self.sums: dict[str, Tensor | float] = {}
        self.counts: dict[str, int] = {}

    def add(self, **values: Tensor | float) -> None:
        for key, value in values.items():
            value = value.detach() if isinstance(value, Tensor) else value
            self.sums[key] = self.sums[key] + value if key in self.sums else value
            self.counts[key] = self.counts.get(key, 0) + 1

    def flush(self) -> dict[str, float]:
        means = {key: float(total) / self.counts[key] for key, total in self.sums.items()}
        self.sums, self.counts = {}, {}
        return means


def train(config: Config, report: Report | None = None, resume: dict[str, Any] | None = None, *,
          force: bool = False, progress: Progress | None = None,
          real_sides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train G and D; returns ``final_*`` and ``best_*`` metrics, ``diverged``, the evaluation protocol
    and timings. ``real_sides`` hands in precomputed real statistics by metric name (sweeps do)."""
    started = time.perf_counter()
    threads = set_threads(config.train.threads)
    device = resolve_device(config.device)
    parts = build(config, device)
    generator, discriminator, loss = parts.generator, parts.discriminator, parts.loss
    optimizer_g, optimizer_d = build_optimizers(config.optim, generator, discriminator)
    ema = GeneratorEMA(generator, config.optim.ema) if config.optim.ema > 0 else None
    real_samples, real_labels = parts.dataset.load("train")
    conditioning = Conditioning.of(config, parts.spec, device)
    batches = ShuffledBatches(real_samples, real_labels, samples_per_step(config), config.seed, device)
    evaluator = Evaluator(parts.dataset, config, device, real_sides)
    select = config.eval.select if config.eval.select in evaluator.keys else ""  # unavailable: nothing selects
    minimise = bool(select) and direction_of(select, config.eval.metrics) == "min"

    step, best, best_step, best_generator = 0, {}, 0, None
    if resume is not None:
        checkpoint.check_resumable(resume, config, force)
        generator.load_state_dict(resume["generator"])
        discriminator.load_state_dict(resume["discriminator"])
        load_optimizer_state(optimizer_g, resume["optimizer_g"])
        load_optimizer_state(optimizer_d, resume["optimizer_d"])
        loss.load_state_dict(resume["loss_state"])
        batches.load_state_dict(resume["batches"])
        if ema is not None:
            ema.module.load_state_dict(resume["ema_generator"])
        step, best, best_step = resume["step"], dict(resume["best"]), resume["best_step"]
        best_generator = resume["best_generator"]
        checkpoint.set_rng_state(resume["rng"], device)

    def state() -> dict[str, Any]:
        return {**checkpoint.header(config, step), "generator": generator.state_dict(),
                "discriminator": discriminator.state_dict(), "optimizer_g": optimizer_g.state_dict(),
                "optimizer_d": optimizer_d.state_dict(), "loss_state": loss.state_dict(),
                "batches": batches.state_dict(), "rng": checkpoint.rng_state(device),
                "ema_generator": ema.module.state_dict() if ema is not None else None,
                "best": best, "best_step": best_step, "best_generator": best_generator, "threads": threads}

    window, final, diverged = LossWindow(), {}, False
    compiled = config.train.compile and compile_models(device, generator, discriminator)
    # PacGAN packing: D makes batch_size decisions, so G and the data supply batch_size x pack samples a step.
    samples = samples_per_step(config)
    players = Players(generator, discriminator, loss, parts.penalty, parts.constraint, optimizer_g, optimizer_d,
                      config.loss.penalty_weight, generator_slots(generator, config.model.pack, config.model.pack_mode),
                      judges_each_sample_alone(discriminator))

    def real_batch() -> tuple[Tensor, Tensor | None]:
        real, labels = batches.next()
        return real, conditioning.real(labels)

    def latent() -> tuple[Tensor, Tensor | None]:
        labels = conditioning.sample(samples)  # labels first: the order the random streams were always drawn in
        return sample_latent(samples, config.model, device), labels

    inputs = StepInputs(real_batch, latent)
    generator.train()
    discriminator.train()
    while step < config.train.steps:
        if config.train.update == "simultaneous":
            result = simultaneous_step(players, inputs)
        else:
            result = alternating_step(players, inputs, config.train.disc_steps)
        for diagnostics in result.diagnostics:
            window.add(**diagnostics)
        if ema is not None:
            ema.update(generator)
        step += 1
        window.add(d_loss=result.discriminator_loss, g_loss=result.generator_loss, penalty=result.penalty)
        real_out, fake_out = result.real_out, result.fake_out

        evaluate_now = step % config.eval.every == 0 or step == config.train.steps
        if not (evaluate_now or step % config.train.log_every == 0):
            continue
        record = window.flush()
        record.update(d_real=float(real_out.logits.detach().mean()), d_fake=float(fake_out.logits.detach().mean()),
                      d_grad_norm=grad_norm(discriminator), g_grad_norm=grad_norm(generator))
        # A non-finite loss, logit or gradient norm means the optimizer can no longer make sense of the run.
        if not all(math.isfinite(v) for v in record.values()):
            diverged = True
            # A finite sentinel, so that searchers and schedulers can rank the trial instead of dropping it.
            final = evaluator.worst()
            if report is not None:
                report({"step": step, **final, "diverged": 1.0}, None)
            break
        if progress is not None:
            progress(step, record)
        if not evaluate_now:
            continue
        if config.eval.bn_reestimate_batches:
            for module in (generator, ema.module if ema is not None else None):
                if module is not None:
                    reestimate_batch_norm(module, config.eval.bn_reestimate_batches,
                                          frozen_latent(config, samples, step, conditioning, device), players.slots)
        scores = evaluator(generator)
        if ema is not None:
            scores.update(evaluator(ema.module, prefix=EMA_PREFIX))
        if select and (not best or (scores[select] < best[select] if minimise else scores[select] > best[select])):
            best, best_step = dict(scores), step
            best_generator = copy.deepcopy(generator.state_dict())
        final = {**scores, **record}
        if report is not None:
            report({"step": step, **final, **{f"best_{k}": v for k, v in best.items()}, "diverged": 0.0}, state())

    if best_generator is None:  # nothing selected a generator (no metric): the last one stands
        best_step = step
    return {
        **{f"final_{k}": v for k, v in final.items()}, **{f"best_{k}": v for k, v in best.items()},
        "best_step": best_step, "steps": step, "diverged": diverged, "threads": threads, "device": str(device),
        "compiled": compiled, "wall_time_s": time.perf_counter() - started, "protocol": evaluator.protocol,
        "unavailable": evaluator.unavailable,
    }

