"""`bench perf train`: speed and memory of one training step of a method, against a GEMM floor measured in the same run.

Reported for `--steps` timed steps after one warm-up step, on random images and rectangular masks at `--size`:
- seconds per step and images per second;
- peak memory: `torch.cuda.max_memory_allocated` on CUDA; on CPU the growth of the process's peak resident set
  size (`resource.getrusage(...).ru_maxrss`) over the resident size before the first step — a lower bound when the
  process had already peaked higher (e.g. while importing);
- FLOPs of one step counted by `torch.utils.flop_counter.FlopCounterMode` (convolutions forward and backward, and
  all counted ops), the achieved convolution GFLOP/s (convolution FLOPs / step time), and that as a fraction of the
  GEMM peak: the GFLOP/s of a large float32 `torch.matmul` timed here, on the same device and threads. A fraction
  near 1 means the step is compute-bound on well-shaped convolutions; far below 1, time goes elsewhere (small
  kernels, memory traffic, Python, attention, the optimiser);
- if the method class defines `perf_extras(config, device) -> {name: zero-arg callable}`, each callable is timed
  the same way (e.g. the contextual-attention module on its own).
"""

from __future__ import annotations

import contextlib
import resource
import sys
import time
from pathlib import Path
from typing import Any, Callable

import click
import torch

from dataset_tools.errors import UserError


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return 0


def _peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def gemm_peak_gflops(device: torch.device, n: int = 2048, repeats: int = 5) -> float:
    """float32 GFLOP/s of an n x n x n matmul (2 n^3 FLOPs), best of `repeats` after a warm-up."""
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    torch.matmul(a, b)
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        torch.matmul(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def count_flops(fn: Callable[[], Any]) -> tuple[int, int]:
    """(convolution FLOPs, all counted FLOPs) of one call of `fn` (forward and backward), with the FLOP formulas of
    `torch.utils.flop_counter` (`FlopCounterMode`'s registry). The formulas are applied by a plain dispatch mode
    rather than `FlopCounterMode` itself, whose module tracker breaks `torch.autograd.grad` on a leaf input ("A leaf
    node was passed to _will_engine_execute_node"), i.e. every WGAN-GP gradient penalty."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import FlopCounterMode

    registry = FlopCounterMode(display=False).flop_registry
    counts = {"conv": 0, "total": 0}

    class _Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            packet = func._overloadpacket
            if packet in registry:
                flops = int(registry[packet](*args, **kwargs, out_val=out))
                counts["total"] += flops
                if "convolution" in str(packet):
                    counts["conv"] += flops
            return out

    with _Count():
        fn()
    return counts["conv"], counts["total"]


def time_callable(fn: Callable[[], Any], device: torch.device, steps: int) -> dict[str, float]:
    """Warm-up call, then `steps` timed calls: mean seconds and peak memory."""
    fn()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rss0 = _rss_bytes()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    _sync(device)
    seconds = (time.perf_counter() - t) / steps
    if device.type == "cuda":
        peak, kind = torch.cuda.max_memory_allocated(device), "cuda max_memory_allocated"
    else:
        peak, kind = max(0, _peak_rss_bytes() - rss0), "peak RSS growth (lower bound)"
    return {"seconds": seconds, "peak_memory_mb": peak / 2 ** 20, "memory_kind": kind}


def synthetic_batch(batch: int, size: int, device: torch.device, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(batch, 3, size, size, generator=g)
    mask = torch.zeros(batch, 1, size, size)
    for i in range(batch):  # one rectangle of 1/16 to 1/4 of the area per image
        h, w = (torch.randint(size // 4, size // 2 + 1, (2,), generator=g)).tolist()
        y, x = torch.randint(0, size - h + 1, (1,), generator=g).item(), torch.randint(0, size - w + 1, (1,),
                                                                                      generator=g).item()
        mask[i, :, y:y + h, x:x + w] = 1
    occluded = image * (1 - mask) + 0.5 * mask
    return {"image": image.to(device), "occluded": occluded.to(device), "mask": mask.to(device),
            "index": torch.arange(batch)}


def perf_train_report(method_spec: str, preset: str | None, batch_size: int | None, size: int | None,
                      steps: int, device_name: str, phase: str | None, overrides: dict[str, Any]) -> dict[str, Any]:
    from benchmark.methods import LearnableMethod, StepContext, get_method_class, resolve_config
    from benchmark.training.distributed import select_device

    cls = get_method_class(method_spec)
    if not issubclass(cls, LearnableMethod):
        raise UserError(f"method {method_spec!r} does not train; 'bench perf train' needs a learnable method")
    device = select_device(device_name)
    config = resolve_config(cls, preset, overrides)
    size = size or config.get("image_size") or 64
    batch_size = batch_size or int(config.get("batch_size", 8))
    torch.manual_seed(0)
    method = cls(config, device)
    method.build()
    phases = [p for p, _ in method.phases()]
    phase = phase or phases[-1]
    if phase not in phases:
        raise UserError(f"method {method_spec!r} has no phase {phase!r}; phases: {', '.join(phases)}")
    batch = synthetic_batch(batch_size, size, device)
    counter = {"step": 0}

    def step():
        g = torch.Generator(device=device).manual_seed(counter["step"])
        ctx = StepContext(step=counter["step"], epoch=0, phase=phase, generator=g, autocast=contextlib.nullcontext)
        counter["step"] += 1
        return method.train_step(batch, ctx)

    for net in method.networks.values():
        net.train()
    timing = time_callable(step, device, steps)
    conv, total = count_flops(step)
    peak = gemm_peak_gflops(device)
    conv_gflops = conv / timing["seconds"] / 1e9
    report = {
        "method": method_spec, "preset": config["preset"], "phase": phase, "device": str(device),
        "threads": torch.get_num_threads(), "batch_size": batch_size, "size": size, "steps": steps,
        "seconds_per_step": timing["seconds"], "images_per_second": batch_size / timing["seconds"],
        "peak_memory_mb": timing["peak_memory_mb"], "memory_kind": timing["memory_kind"],
        "conv_gflop_per_step": conv / 1e9, "all_counted_gflop_per_step": total / 1e9,
        "conv_gflops_achieved": conv_gflops, "gemm_peak_gflops": peak, "fraction_of_gemm_peak": conv_gflops / peak,
        "extras": {},
    }
    extras_fn = getattr(cls, "perf_extras", None)
    if extras_fn is not None:
        for name, fn in extras_fn(config, device).items():
            t = time_callable(fn, device, steps)
            report["extras"][name] = {"seconds": t["seconds"], "peak_memory_mb": t["peak_memory_mb"],
                                      "memory_kind": t["memory_kind"]}
    return report


@click.command("train")
@click.option("--method", required=True, help="A learnable method (registry name or package.module:Class).")
@click.option("--preset", default=None)
@click.option("--batch-size", type=int, default=None, help="Default: the preset's batch_size.")
@click.option("--size", type=int, default=None, help="Image side in pixels. Default: the preset's image_size, or 64.")
@click.option("--steps", type=int, default=3, show_default=True, help="Timed steps (after one warm-up step).")
@click.option("--phase", default=None, help="Training phase to time (default: the last, i.e. end-to-end).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Config override, as for bench run.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report as JSON.")
def perf_train(method, preset, batch_size, size, steps, phase, device, sets, json_out) -> None:
    """Time one training step: images/s, peak memory, convolution GFLOP/s against a GEMM peak."""
    from benchmark.commands import parse_set

    if steps < 1:
        raise UserError("--steps must be at least 1")
    r = perf_train_report(method, preset, batch_size, size, steps, device, phase, parse_set(sets))
    click.echo(f"{r['method']} preset={r['preset']} phase={r['phase']} device={r['device']} threads={r['threads']} "
               f"batch={r['batch_size']} size={r['size']}")
    click.echo(f"  step: {r['seconds_per_step'] * 1000:.1f} ms, {r['images_per_second']:.2f} images/s, "
               f"peak memory {r['peak_memory_mb']:.1f} MB ({r['memory_kind']})")
    click.echo(f"  conv: {r['conv_gflop_per_step']:.3f} GFLOP/step (all counted ops {r['all_counted_gflop_per_step']:.3f}),"
               f" {r['conv_gflops_achieved']:.2f} GFLOP/s achieved = {r['fraction_of_gemm_peak']:.1%} of the "
               f"{r['gemm_peak_gflops']:.1f} GFLOP/s GEMM peak measured now")
    for name, e in r["extras"].items():
        click.echo(f"  {name}: {e['seconds'] * 1000:.1f} ms, peak memory {e['peak_memory_mb']:.1f} MB")
    if json_out:
        from dataset_tools.fileio import atomic_write_json

        atomic_write_json(json_out, r)
