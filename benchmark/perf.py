"""`bench perf ...`: speed and memory benchmarks.

Every figure is reported next to a floor measured in the same run on the same machine (for example the
builder against plain decode/resize/encode of the same files), as a ratio, so numbers from different
machines stay comparable. These are benchmarks, never timed assertions in tests.
"""

from __future__ import annotations

import importlib

import click

from dataset_tools.errors import UserError

SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "build": ("dataset_tools.perf:perf_build", "Dataset builder images/s against the decode/resize/encode floor."),
    "train": ("benchmark.training.perf:perf_train", "One training step: images/s, peak memory, conv GFLOP/s against a GEMM peak."),
    "eval": ("benchmark.metrics.perf:perf_eval", "Scoring throughput for PSNR/SSIM and FID features."),
}


class _LazyPerf(click.Group):
    def list_commands(self, ctx):
        return list(SUBCOMMANDS)

    def get_command(self, ctx, name):
        if name not in SUBCOMMANDS:
            return None
        module_name, attr = SUBCOMMANDS[name][0].split(":")
        cmd = getattr(importlib.import_module(module_name), attr)
        if cmd.short_help is None:
            cmd.short_help = SUBCOMMANDS[name][1]
        return cmd

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as e:
            click.echo(f"Error: {e}", err=True)
            ctx.exit(2)


@click.group(cls=_LazyPerf)
def perf() -> None:
    """Speed and memory benchmarks, each reported as a ratio against a floor measured in the same run."""
