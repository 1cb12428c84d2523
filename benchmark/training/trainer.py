"""The generic training loop for `LearnableMethod`s: any number of networks and optimisers, trained in phases.

Determinism and resume (the contract that makes `bench run --resume` end bit-identical to an uninterrupted run on CPU):
- networks are initialised after `torch.manual_seed(seed)` (the same on every rank; DDP also broadcasts rank 0's);
- the data order of an epoch is a function of (seed, epoch) (`data.epoch_order`), a sample's augmentation a function
  of (seed, epoch, index), and the position inside the epoch is part of the checkpoint, so a resumed run skips
  exactly the batches already done;
- every step re-seeds the global torch RNG and hands the method a `torch.Generator` seeded from (seed, step, rank)
  (`StepContext.generator`), so no random number depends on what happened before the step;
- checkpoints hold the weights (safetensors, one file per network), the optimiser states, the RNG states, the
  step / epoch / batch position / phase, the accumulated wall time and the method's extra state (if any). Each is
  written into a temporary folder that is renamed to `checkpoints/step-NNNNNNNN` when complete, so a SIGKILL at any
  moment leaves either the previous or the new checkpoint, never half of one. Nothing is loaded with unrestricted
  pickle (`torch.load(weights_only=True)`);
- `metrics.jsonl` is cut back to the checkpoint's step on resume, so it too equals the uninterrupted run's.

A non-finite loss stops training with `TrainingDiverged` before any checkpoint of the poisoned weights is written.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import math
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from tqdm import tqdm

from benchmark.methods import LearnableMethod, StepContext, unwrap
from benchmark.training import distributed as D
from benchmark.training.data import InpaintingDataset, batches, epoch_order
from dataset_tools.errors import UserError
from dataset_tools.fileio import atomic_write_bytes, atomic_write_text

CKPT_RE = re.compile(r"^step-(\d{8})$")


class TrainingDiverged(Exception):
    """A loss became NaN or inf; the message names the step and the loss."""


@dataclass
class EngineSettings:
    epochs: int | None = None  # total epochs; None = the method's phases as they are
    max_steps: int | None = None
    checkpoint_every: int = 500
    batch_size: int = 8
    amp: str = "none"
    log_every: int = 10
    sample_every: int | None = None  # None = with every checkpoint
    keep_checkpoints: int = 2
    workers: int = 0
    quiet: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TrainState:
    step: int = 0  # optimisation steps done
    epoch: int = 0  # global epoch index (over all phases) of the next batch
    batch: int = 0  # batches of `epoch` already done
    done: bool = False
    wall_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def step_seed(seed: int, step: int, rank: int) -> int:
    return int(np.random.SeedSequence([int(seed), int(step), int(rank)]).generate_state(1, np.uint64)[0] >> 1)


def scale_phases(phases: list[tuple[str, int]], epochs: int | None) -> list[tuple[str, int]]:
    """`--epochs N` rescales the method's phases proportionally to N epochs in total (each phase at least one epoch,
    the last phase takes the rounding remainder), e.g. paper [(coarse, 20), (joint, 200)] with N = 11 -> 1 + 10."""
    if epochs is None:
        return [(n, int(e)) for n, e in phases]
    if epochs < len(phases):
        raise UserError(f"--epochs {epochs} is fewer than the method's {len(phases)} training phases "
                        f"({', '.join(n for n, _ in phases)}); give at least {len(phases)}")
    total = sum(e for _, e in phases)
    out, used = [], 0
    for i, (name, e) in enumerate(phases):
        if i == len(phases) - 1:
            n = epochs - used
        else:
            n = max(1, round(epochs * e / total))
            n = min(n, epochs - used - (len(phases) - 1 - i))
        out.append((name, n))
        used += n
    return out


def collate(items: list[dict[str, Any]], device: torch.device) -> dict[str, torch.Tensor]:
    out = {k: torch.stack([it[k] for it in items]).to(device) for k in ("image", "occluded", "mask")}
    out["index"] = torch.tensor([it["index"] for it in items])
    return out


# ---------------------------------------------------------------------------------------------------- checkpoints

def list_checkpoints(run_dir: Path) -> list[Path]:
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and CKPT_RE.match(p.name) and (p / "state.pt").is_file()]
    return sorted(found, key=lambda p: int(CKPT_RE.match(p.name).group(1)))


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def save_checkpoint(run_dir: Path, method: LearnableMethod, state: TrainState) -> Path:
    """Write `checkpoints/step-NNNNNNNN/` atomically (temp folder + rename) and drop older ones but the newest few."""
    folder = run_dir / "checkpoints"
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{state.step:08d}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-step-", dir=folder))
    try:
        weights = {}
        for name, net in method.networks.items():
            tensors = {k: v.detach().cpu().clone().contiguous() for k, v in unwrap(net).state_dict().items()}
            data = st_save(tensors)  # no metadata: its key order is not stable, the bytes must be
            atomic_write_bytes(tmp / f"{name}.safetensors", data)
            weights[name] = f"{name}.safetensors"
        payload = {
            "step": state.step, "epoch": state.epoch, "batch": state.batch, "done": state.done,
            "wall_seconds": state.wall_seconds, "extra": state.extra,
            "optimizers": {k: opt.state_dict() for k, opt in method.optimizers.items()},
            "rng": _rng_state(),
            "method_state": method.extra_state() if hasattr(method, "extra_state") else {},
        }
        buf = io.BytesIO()
        torch.save(payload, buf)
        atomic_write_bytes(tmp / "state.pt", buf.getvalue())
        if final.exists():  # re-saving the same step (e.g. the final checkpoint right after a periodic one)
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    for tmp in (run_dir / "checkpoints").glob(".tmp-step-*"):
        shutil.rmtree(tmp, ignore_errors=True)


def load_weights(method: LearnableMethod, ckpt: Path, device: torch.device) -> None:
    for name, net in method.networks.items():
        path = ckpt / f"{name}.safetensors"
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {ckpt} lacks {path.name}")
        unwrap(net).load_state_dict(st_load(path.read_bytes()))
        unwrap(net).to(device)


def load_checkpoint(method: LearnableMethod, ckpt: Path, device: torch.device) -> TrainState:
    load_weights(method, ckpt, device)
    payload = torch.load(ckpt / "state.pt", map_location="cpu", weights_only=True)
    for name, opt in method.optimizers.items():
        opt.load_state_dict(payload["optimizers"][name])
    torch.set_rng_state(payload["rng"]["torch"])
    if "cuda" in payload["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(payload["rng"]["cuda"])
    if payload.get("method_state") and hasattr(method, "load_extra_state"):
        method.load_extra_state(payload["method_state"])
    return TrainState(step=payload["step"], epoch=payload["epoch"], batch=payload["batch"], done=payload["done"],
                      wall_seconds=payload["wall_seconds"], extra=payload.get("extra", {}))


# ---------------------------------------------------------------------------------------------------- the loop

class Trainer:
    """Drives one `LearnableMethod` over the train split. Only rank 0 writes files."""

    def __init__(self, method: LearnableMethod, dataset: InpaintingDataset, run_dir: Path, settings: EngineSettings,
                 seed: int, device: torch.device, dist: D.DistInfo,
                 on_sample: Callable[[int], None] | None = None, log: Callable[[str], None] | None = None):
        self.method, self.dataset, self.run_dir, self.s = method, dataset, Path(run_dir), settings
        self.seed, self.device, self.dist = int(seed), device, dist
        self.on_sample = on_sample
        self.log = log or (lambda msg: None)
        self.phases = scale_phases(method.phases(), settings.epochs)
        self.total_epochs = sum(e for _, e in self.phases)
        n_local = len(epoch_order(len(dataset), seed, 0, dist.rank, dist.world_size))
        self.batches_per_epoch = -(-n_local // settings.batch_size)
        if self.batches_per_epoch == 0:
            raise UserError("the train split is empty")
        total = self.total_epochs * self.batches_per_epoch
        self.total_steps = min(total, settings.max_steps) if settings.max_steps is not None else total

    def phase_of(self, epoch: int) -> str:
        acc = 0
        for name, e in self.phases:
            acc += e
            if epoch < acc:
                return name
        return self.phases[-1][0]

    def autocast(self):
        if self.s.amp == "bf16":
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    def _truncate_metrics(self, step: int) -> None:
        """Keep the complete records up to `step` (a kill may have left later ones, or half a line)."""
        p = self._metrics_path()
        if not p.is_file():
            return
        keep = []
        for line in p.read_text(encoding="utf-8").splitlines(keepends=True):
            if not line.endswith("\n"):
                break
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                break
            if rec.get("step", 0) <= step:
                keep.append(line)
        atomic_write_text(p, "".join(keep))

    def restore(self) -> TrainState:
        ckpt = latest_checkpoint(self.run_dir)
        if ckpt is None:
            if self.dist.is_main:
                self._truncate_metrics(0)
            return TrainState()
        state = load_checkpoint(self.method, ckpt, self.device)
        if self.dist.is_main:
            self._truncate_metrics(state.step)
            self.log(f"resumed from {ckpt.relative_to(self.run_dir)} (step {state.step}, epoch {state.epoch}, "
                     f"batch {state.batch})")
        return state

    def _checkpoint(self, state: TrainState) -> None:
        D.distribute_buffers(self.method.networks, self.dist)  # every rank's BN statistics, before rank 0 saves
        if self.dist.is_main:
            path = save_checkpoint(self.run_dir, self.method, state)
            prune_checkpoints(self.run_dir, self.s.keep_checkpoints)
            self.log(f"checkpoint {path.name}")
        D.barrier(self.dist)

    def train(self, state: TrainState) -> TrainState:
        method, s, dist = self.method, self.s, self.dist
        for net in method.networks.values():
            net.train()
        if state.done:
            return state
        sample_every = s.sample_every or s.checkpoint_every
        bar = tqdm(total=self.total_steps, initial=min(state.step, self.total_steps), desc=f"train {method.name}",
                   unit="step", disable=s.quiet or not dist.is_main, dynamic_ncols=True)
        metrics_file = open(self._metrics_path(), "a", encoding="utf-8") if dist.is_main else None
        t_start = time.perf_counter()
        wall0 = state.wall_seconds
        try:
            while state.epoch < self.total_epochs and state.step < self.total_steps:
                epoch, phase = state.epoch, self.phase_of(state.epoch)
                self.dataset.set_epoch(epoch)
                plan = batches(epoch_order(len(self.dataset), self.seed, epoch, dist.rank, dist.world_size),
                               s.batch_size)
                loader = torch.utils.data.DataLoader(self.dataset, batch_sampler=plan[state.batch:],
                                                     num_workers=s.workers, collate_fn=lambda items: items)
                for items in loader:
                    if state.step >= self.total_steps:
                        break
                    batch = collate(items, self.device)
                    seed = step_seed(self.seed, state.step, dist.rank)
                    torch.manual_seed(seed)
                    gen = torch.Generator(device=self.device).manual_seed(seed)
                    ctx = StepContext(step=state.step, epoch=epoch, phase=phase, generator=gen,
                                      autocast=self.autocast, world_size=dist.world_size, rank=dist.rank)
                    losses = method.train_step(batch, ctx)
                    names = sorted(losses)
                    values = D.all_reduce_mean(torch.tensor([float(losses[k]) for k in names], dtype=torch.float64),
                                               dist)
                    if not bool(torch.isfinite(values).all()):
                        bad = [n for n, v in zip(names, values.tolist()) if not math.isfinite(v)]
                        raise TrainingDiverged(
                            f"non-finite loss ({', '.join(bad)}) at step {state.step + 1} (epoch {epoch}, phase "
                            f"{phase!r}); training stopped, the last good checkpoint is kept in "
                            f"{self.run_dir / 'checkpoints'}")
                    state.step += 1
                    state.batch += 1
                    if state.batch >= len(plan):
                        state.epoch, state.batch = state.epoch + 1, 0
                    state.wall_seconds = wall0 + time.perf_counter() - t_start
                    record = {"step": state.step, "epoch": epoch, "phase": phase,
                              **{k: float(v) for k, v in zip(names, values.tolist())}}
                    if metrics_file and (state.step % s.log_every == 0 or state.step == self.total_steps
                                         or state.step == 1):
                        metrics_file.write(json.dumps(record, sort_keys=True) + "\n")
                        metrics_file.flush()
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.4g}" for k, v in zip(names, values.tolist())}, refresh=False)
                    last = state.step >= self.total_steps or state.epoch >= self.total_epochs
                    if not last and state.step % s.checkpoint_every == 0:
                        if metrics_file:
                            metrics_file.flush()
                        self._checkpoint(state)
                    if not last and self.on_sample and dist.is_main and state.step % sample_every == 0:
                        self.on_sample(state.step)
                    if state.batch == 0:
                        break  # epoch finished
            state.done = True
            state.wall_seconds = wall0 + time.perf_counter() - t_start
            if metrics_file:
                metrics_file.flush()
            self._checkpoint(state)
        finally:
            bar.close()
            if metrics_file:
                metrics_file.close()
        return state
